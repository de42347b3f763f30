// A generation's state as the hooks expose it, and the reducer that folds the job's events into
// it: status, progress with ETA, the latest preview, the queue position, the result or the error.
import { imagesOf, type GenerationResult, type JobEvent } from 'sd-worker-sdk';

export type GenerationStatus = 'idle' | 'submitting' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface GenerationProgress {
  step: number;
  total: number;
  percent: number;
  elapsedMs: number;
  // Remaining time at the pace so far; undefined before the first step.
  etaMs: number | undefined;
}

export interface GenerationPreview {
  url: string;  // a data: URL
  step: number;
  width: number | undefined;
  height: number | undefined;
}

export interface GenerationState {
  status: GenerationStatus;
  jobId: string | undefined;
  progress: GenerationProgress | undefined;
  preview: GenerationPreview | undefined;
  queuePosition: number | undefined;  // 1-based while queued
  message: string | undefined;        // the latest narration line
  result: GenerationResult | undefined;
  error: Error | undefined;
}

export const initialState: GenerationState = {
  status: 'idle',
  jobId: undefined,
  progress: undefined,
  preview: undefined,
  queuePosition: undefined,
  message: undefined,
  result: undefined,
  error: undefined,
};

export type Action =
  | { type: 'reset' }
  | { type: 'submitting' }
  | { type: 'accepted'; jobId: string }
  | { type: 'event'; event: JobEvent }
  | { type: 'queue'; position: number }
  | { type: 'completed'; result: GenerationResult }
  | { type: 'failed'; error: Error }
  | { type: 'cancelled'; error: Error };

const isActive = (s: GenerationStatus) => s === 'submitting' || s === 'queued' || s === 'running';

export function reduce(state: GenerationState, action: Action): GenerationState {
  switch (action.type) {
    case 'reset':
      return initialState;
    case 'submitting':
      return { ...initialState, status: 'submitting' };
    case 'accepted':
      return { ...state, status: 'queued', jobId: action.jobId };
    case 'queue':
      return state.status === 'queued' ? { ...state, queuePosition: action.position } : state;
    case 'completed':
      return { ...state, status: 'completed', result: action.result, queuePosition: undefined };
    case 'failed':
      return { ...state, status: 'failed', error: action.error, queuePosition: undefined };
    case 'cancelled':
      return { ...state, status: 'cancelled', error: action.error, queuePosition: undefined };
    case 'event':
      return isActive(state.status) ? onEvent(state, action.event) : state;
  }
}

function onEvent(state: GenerationState, event: JobEvent): GenerationState {
  switch (event.type) {
    case 'progress':
    case 'preview': {
      const etaMs = event.step > 0 ? (event.elapsed_ms / event.step) * (event.total - event.step) : undefined;
      const progress = { step: event.step, total: event.total, percent: event.percent, elapsedMs: event.elapsed_ms, etaMs };
      const next = { ...state, status: 'running' as const, queuePosition: undefined, progress };
      if (event.type === 'preview' && event.image)
        next.preview = { url: `data:image/${event.format ?? 'png'};base64,${event.image}`, step: event.step, width: event.width, height: event.height };
      return next;
    }
    case 'narration':
      return {
        ...state,
        message: event.human || state.message,
        status: event.action === 'job_started' ? 'running' : state.status,
        queuePosition: event.action === 'job_started' ? undefined : state.queuePosition,
      };
    case 'complete':
      return { ...state, result: { jobId: event.job_id, complete: event, images: imagesOf(event) } };
    case 'error':
      return state;
  }
}
