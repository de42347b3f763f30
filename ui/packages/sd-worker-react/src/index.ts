// sd-worker-react: React hooks over sd-worker-sdk (docs/ui.md).
export { SdWorkerProvider, useSdWorkerClient } from './context';
export { useTextToImage, useImageToImage, useInpainting } from './useGeneration';
export type { GenerationHook, HookOptions } from './useGeneration';
export { useGenerationProgress } from './useGenerationProgress';
export type { GenerationProgressResult } from './useGenerationProgress';
export type { GenerationState, GenerationStatus, GenerationProgress, GenerationPreview } from './state';
