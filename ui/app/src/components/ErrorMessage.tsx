// A failure as a person reads it: the worker's message (its error shape: code, field, request
// id), a job's own failure, or an unreachable worker.
import { JobFailedError, WorkerApiError } from 'sd-worker-sdk';

export function describeError(error: Error): { title: string; detail: string | undefined } {
  if (error instanceof WorkerApiError) {
    const parts = [error.code, error.param ? `field: ${error.param}` : undefined, error.requestId].filter(Boolean);
    return { title: error.message, detail: parts.join(' · ') };
  }
  if (error instanceof JobFailedError) return { title: `The job failed: ${error.message}`, detail: error.code };
  if (error instanceof TypeError) return { title: 'Cannot reach the worker', detail: error.message };
  return { title: error.message, detail: undefined };
}

export function ErrorMessage({ error, id }: { error: Error | undefined; id?: string }) {
  if (!error) return null;
  const { title, detail } = describeError(error);
  return (
    <div className="error" role="alert" id={id}>
      <strong>{title}</strong>
      {detail ? <span className="error-detail">{detail}</span> : null}
    </div>
  );
}
