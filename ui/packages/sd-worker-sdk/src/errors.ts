// Failures as typed errors: WorkerApiError carries the worker's error shape
// ({"error":{"code","message","type","param","request_id"}}) with the HTTP status; a job that
// ends badly is JobFailedError (its error event / [ERROR] marker) or JobCancelledError.
import type { ApiErrorBody } from './types';

export class WorkerApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly type: string;
  readonly param: string | undefined;
  readonly requestId: string | undefined;
  readonly retryAfterS: number | undefined;

  constructor(status: number, body: Partial<ApiErrorBody>, retryAfterS?: number) {
    super(body.message ?? `HTTP ${status}`);
    this.name = 'WorkerApiError';
    this.status = status;
    this.code = body.code ?? `HTTP_${status}`;
    this.type = body.type ?? 'unknown';
    this.param = body.param;
    this.requestId = body.request_id;
    this.retryAfterS = retryAfterS;
  }

  // 401: the worker wants a (different) token.
  get isAuthError(): boolean {
    return this.status === 401;
  }
}

export class JobFailedError extends Error {
  readonly jobId: string;
  readonly code: string | undefined;
  constructor(jobId: string, message: string, code?: string) {
    super(message);
    this.name = 'JobFailedError';
    this.jobId = jobId;
    this.code = code;
  }
}

export class JobCancelledError extends Error {
  readonly jobId: string;
  constructor(jobId: string, message = 'the job was cancelled') {
    super(message);
    this.name = 'JobCancelledError';
    this.jobId = jobId;
  }
}

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

// The WorkerApiError of a failed response: the error shape when the body has it, else the status.
export async function errorFromResponse(response: Response): Promise<WorkerApiError> {
  const retry = Number(response.headers.get('Retry-After') ?? Number.NaN);
  const retryAfterS = Number.isFinite(retry) ? retry : undefined;
  let body: Partial<ApiErrorBody> = {};
  try {
    const parsed: unknown = await response.json();
    if (isErrorShape(parsed)) body = parsed.error;
  } catch {
    // not JSON: keep the status alone
  }
  return new WorkerApiError(response.status, body, retryAfterS);
}

function isErrorShape(value: unknown): value is { error: Partial<ApiErrorBody> } {
  if (typeof value !== 'object' || value === null || !('error' in value)) return false;
  const inner = (value as { error: unknown }).error;
  return typeof inner === 'object' && inner !== null && typeof (inner as { message?: unknown }).message === 'string';
}
