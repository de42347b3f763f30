// Turns a finished job of one mode into gallery items, with the parameters it was submitted with.
import { useEffect, useRef } from 'react';
import type { GenerationState } from 'sd-worker-react';
import type { GalleryItem } from '../components/Gallery';
import type { Mode } from '../components/Tabs';
import type { FormValues } from './formValues';

export interface Submitted {
  values: FormValues;
  width: number;
  height: number;
}

export function useResults(mode: Mode, state: GenerationState, submitted: Submitted | undefined, add: (items: GalleryItem[]) => void) {
  const seen = useRef<string | undefined>(undefined);
  useEffect(() => {
    const result = state.status === 'completed' ? state.result : undefined;
    if (!result || seen.current === result.jobId) return;
    seen.current = result.jobId;
    const c = result.complete;
    const v = submitted?.values;
    add(
      result.images.map((image, index) => ({
        key: `${result.jobId}-${index}`,
        jobId: result.jobId,
        index,
        count: result.images.length,
        image,
        format: c.format ?? 'png',
        width: c.width ?? submitted?.width ?? 0,
        height: c.height ?? submitted?.height ?? 0,
        mode,
        prompt: v?.prompt ?? '',
        negativePrompt: v?.negativePrompt ?? '',
        seed: String(c.seed),
        steps: c.steps,
        guidance: v?.guidance ?? 0,
        scheduler: v?.scheduler || c.scheduler || '',
        strength: mode === 'txt2img' ? undefined : v?.strength,
        elapsedMs: c.elapsed_ms,
      })),
    );
  }, [mode, state.status, state.result, submitted, add]);
}
