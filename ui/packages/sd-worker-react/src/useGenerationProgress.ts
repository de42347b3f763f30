// useGenerationProgress(jobId): follows a job that was submitted elsewhere: progress, ETA,
// previews, queue position, result or error, and cancel(). A new jobId restarts it; unmount
// stops the stream (the job itself goes on).
import { useCallback, useEffect, useReducer } from 'react';
import type { SdWorkerClient } from 'sd-worker-sdk';
import { useSdWorkerClient } from './context';
import { followJob } from './follow';
import { initialState, reduce, type GenerationState } from './state';

export interface GenerationProgressResult extends GenerationState {
  cancel: () => Promise<void>;
}

export function useGenerationProgress(jobId: string | undefined, options: { client?: SdWorkerClient } = {}): GenerationProgressResult {
  const client = useSdWorkerClient(options.client);
  const [state, dispatch] = useReducer(reduce, initialState);

  useEffect(() => {
    dispatch({ type: 'reset' });
    if (!jobId) return;
    const controller = new AbortController();
    dispatch({ type: 'accepted', jobId });
    void followJob(client, jobId, dispatch, controller.signal);
    return () => controller.abort();
  }, [client, jobId]);

  const cancel = useCallback(async () => {
    if (jobId) await cancelQuietly(client, jobId);
  }, [client, jobId]);

  return { ...state, cancel };
}

// DELETE /v1/jobs/{id}; a job that already finished (409) is not an error here.
export async function cancelQuietly(client: SdWorkerClient, jobId: string): Promise<void> {
  try {
    await client.cancel(jobId);
  } catch (error) {
    if ((error as { status?: number }).status === 409) return;
    throw error;
  }
}
