// sd-worker-sdk: a typed client of sd-worker's HTTP/SSE API (docs/ui.md).
export { SdWorkerClient, imagesOf } from './client';
export type { ClientOptions, CallOptions, GenerateOptions, GenerationResult, LoraEntry } from './client';
export { WorkerApiError, JobFailedError, JobCancelledError, isAbortError, errorFromResponse } from './errors';
export { jobEvents, parseMarker } from './stream';
export type { StreamItem, StreamOptions, StreamOutcome } from './stream';
export { readSseFrames } from './sse';
export type { SseFrame } from './sse';
export { base64ToBytes, bytesToBase64, isPng, pngTextChunks } from './png';
export type * from './types';
