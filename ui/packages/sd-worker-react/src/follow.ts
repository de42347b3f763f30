// Follows a job to its end for the hooks: its stream's events go to `dispatch`; while it is
// queued, GET /v1/jobs/{id} is polled for its queue position. Ends with completed, failed or
// cancelled dispatched, or silently when `signal` aborts (unmount, a newer generation).
import { JobCancelledError, isAbortError, type GenerationResult, type SdWorkerClient } from 'sd-worker-sdk';
import type { Action } from './state';

// How often a queued job's position is read.
export const kQueuePollMs = 750;

export async function followJob(
  client: SdWorkerClient,
  jobId: string,
  dispatch: (action: Action) => void,
  signal: AbortSignal,
): Promise<GenerationResult | undefined> {
  let started = false;
  const poll = async () => {
    while (!started && !signal.aborted) {
      try {
        const status = await client.status(jobId, { signal });
        if (status.state !== 'queued') return;
        if (status.queue_position > 0) dispatch({ type: 'queue', position: status.queue_position });
      } catch {
        return;  // the stream reports what matters
      }
      await new Promise((r) => setTimeout(r, kQueuePollMs));
    }
  };
  void poll();
  try {
    const result = await client.follow(jobId, {
      signal,
      onEvent: (event) => {
        if (event.type === 'progress' || event.type === 'preview' || (event.type === 'narration' && event.action === 'job_started'))
          started = true;
        dispatch({ type: 'event', event });
      },
    });
    if (!signal.aborted) dispatch({ type: 'completed', result });
    return result;
  } catch (error) {
    if (signal.aborted || isAbortError(error)) return undefined;
    const e = error instanceof Error ? error : new Error(String(error));
    dispatch(e instanceof JobCancelledError ? { type: 'cancelled', error: e } : { type: 'failed', error: e });
    return undefined;
  } finally {
    started = true;  // stops the poll
  }
}
