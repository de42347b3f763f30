// A job's event stream (GET /v1/jobs/{id}/stream) as typed items: each named event parsed as the
// document's JobEvent, then one `end` item from the final marker ([DONE], [ERROR] <message>,
// [CANCELLED]). A dropped connection is resumed with Last-Event-ID (the worker replays from
// there); a 204 answer means the end was already sent. Aborting the signal ends the iteration.
import { errorFromResponse, isAbortError } from './errors';
import { readSseFrames } from './sse';
import type { JobEvent } from './types';

export type StreamOutcome = 'done' | 'error' | 'cancelled';

export type StreamItem =
  | { kind: 'event'; id: number; event: JobEvent }
  | { kind: 'end'; id: number; outcome: StreamOutcome; message: string | undefined };

export interface StreamOptions {
  signal?: AbortSignal | undefined;
  // Resume after this event id (as a reconnecting EventSource does).
  lastEventId?: number | undefined;
  // Reconnects after a dropped connection before giving up (default 5).
  maxReconnects?: number | undefined;
}

// What the client lends the stream: an authorised fetch of a path.
export type StreamFetch = (path: string, init: RequestInit) => Promise<Response>;

export function parseMarker(data: string): { outcome: StreamOutcome; message: string | undefined } | undefined {
  if (data === '[DONE]') return { outcome: 'done', message: undefined };
  if (data === '[CANCELLED]') return { outcome: 'cancelled', message: undefined };
  if (data.startsWith('[ERROR]')) return { outcome: 'error', message: data.slice(7).trim() || undefined };
  return undefined;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError'));
      },
      { once: true },
    );
  });

export async function* jobEvents(fetchPath: StreamFetch, jobId: string, options: StreamOptions = {}): AsyncGenerator<StreamItem> {
  const path = `/v1/jobs/${encodeURIComponent(jobId)}/stream`;
  let lastId = options.lastEventId ?? 0;
  let reconnects = 0;
  const maxReconnects = options.maxReconnects ?? 5;
  for (;;) {
    const headers: Record<string, string> = { Accept: 'text/event-stream' };
    if (lastId > 0) headers['Last-Event-ID'] = String(lastId);
    let response: Response;
    try {
      response = await fetchPath(path, { headers, signal: options.signal ?? null, cache: 'no-store' });
    } catch (error) {
      if (isAbortError(error) || options.signal?.aborted || reconnects >= maxReconnects) throw error;
      await sleep(250 * 2 ** reconnects++, options.signal);
      continue;
    }
    if (response.status === 204) return;  // past the final marker already
    if (!response.ok) throw await errorFromResponse(response);
    if (!response.body) throw new Error('the event stream has no body');
    try {
      for await (const frame of readSseFrames(response.body)) {
        const id = frame.id !== undefined && /^\d+$/.test(frame.id) ? Number(frame.id) : lastId + 1;
        lastId = id;
        if (frame.event === undefined) {
          const marker = parseMarker(frame.data);
          if (marker) {
            yield { kind: 'end', id, ...marker };
            return;
          }
          continue;
        }
        yield { kind: 'event', id, event: JSON.parse(frame.data) as JobEvent };
        reconnects = 0;
      }
    } catch (error) {
      if (isAbortError(error) || options.signal?.aborted || reconnects >= maxReconnects) throw error;
    }
    // The connection ended without a marker: resume after the last event seen.
    if (options.signal?.aborted) return;
    if (reconnects >= maxReconnects) throw new Error(`the event stream of ${jobId} ended without its final marker`);
    await sleep(250 * 2 ** reconnects++, options.signal);
  }
}
