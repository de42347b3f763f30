// Where the current job is: queue position while it waits, a progress bar with step, elapsed
// time and ETA while it runs, the latest preview, and Cancel.
import type { GenerationState } from 'sd-worker-react';

const seconds = (ms: number | undefined) => (ms === undefined ? '' : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

const kStatusText: Record<GenerationState['status'], string> = {
  idle: 'Ready',
  submitting: 'Submitting…',
  queued: 'Waiting for the worker…',
  running: 'Generating…',
  completed: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

export function ProgressPanel({ state, busy, onCancel }: { state: GenerationState; busy: boolean; onCancel: () => void }) {
  const p = state.progress;
  const percent = state.status === 'completed' ? 100 : Math.round(p?.percent ?? 0);
  let text = kStatusText[state.status];
  if (state.status === 'queued' && state.queuePosition) text = `Waiting in the queue: position ${state.queuePosition}`;
  if (state.status === 'running' && p) text = `Step ${p.step} of ${p.total} · ${seconds(p.elapsedMs)}${p.etaMs !== undefined ? ` · about ${seconds(p.etaMs)} left` : ''}`;
  if (state.status === 'completed' && state.result) text = `Done in ${seconds(state.result.complete.elapsed_ms)}`;
  return (
    <section className="progress-panel" aria-label="Progress">
      <div className="progress-head">
        <div className="status" aria-live="polite">{text}</div>
        <button type="button" className="danger" onClick={onCancel} disabled={!busy}>Cancel</button>
      </div>
      <div className="progress" role="progressbar" aria-label="Generation progress" aria-valuemin={0} aria-valuemax={100}
        aria-valuenow={percent} aria-valuetext={`${percent}%`}>
        <div className="progress-fill" style={{ width: `${percent}%` }} />
      </div>
      {state.preview && busy ? (
        <img className="preview" src={state.preview.url} alt={`Preview at step ${state.preview.step}`} />
      ) : null}
    </section>
  );
}
