// SdWorkerClient: every route of the worker's API with the document's types, the bearer token,
// abort signals, and generate() = submit + follow the stream to the result.
import { JobCancelledError, JobFailedError, WorkerApiError, errorFromResponse } from './errors';
import { jobEvents, type StreamItem, type StreamOptions } from './stream';
import type {
  CompleteEvent,
  Health,
  ImageToImageParams,
  InpaintParams,
  JobAccepted,
  JobCancelled,
  JobEvent,
  JobRequest,
  JobStatus,
  LoraListResponse,
  ModelList,
  Operation,
  ParamsOf,
  Readiness,
  RequestOf,
  SchedulerName,
  TextToImageParams,
  WorkerInfo,
} from './types';

export interface ClientOptions {
  // The worker's URL ("http://127.0.0.1:8080"); "" = this page's origin (the app at /ui/).
  baseUrl?: string;
  // Bearer token, for a worker started with --api-token / LLORCH_API_TOKEN.
  token?: string | undefined;
  // hive_id sent with jobs (rbee routing; any string for a lone worker).
  hiveId?: string;
  // The model jobs name; default: the served one, read from GET /v1/models once.
  model?: string;
  fetch?: typeof fetch;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
}

export interface GenerateOptions extends CallOptions {
  // Every event as it arrives (progress, previews, narration, ...).
  onEvent?: (event: JobEvent) => void;
  // Called once the job is accepted, before its first event.
  onAccepted?: (accepted: JobAccepted) => void;
}

export interface GenerationResult {
  jobId: string;
  complete: CompleteEvent;
  // Every image of the job as base64 (complete.images when there are several, else complete.image).
  images: string[];
}

export interface LoraEntry {
  name: string;
  path: string;
}

export class SdWorkerClient {
  readonly baseUrl: string;
  private tokenValue: string | undefined;
  private readonly hiveId: string;
  private model: string | undefined;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
    this.tokenValue = options.token || undefined;
    this.hiveId = options.hiveId ?? 'sd-worker-ui';
    this.model = options.model;
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  get token(): string | undefined {
    return this.tokenValue;
  }

  setToken(token: string | undefined): void {
    this.tokenValue = token || undefined;
  }

  // An authorised fetch of a path of the API (used by the stream too).
  fetchPath = (path: string, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    if (this.tokenValue) headers.set('Authorization', `Bearer ${this.tokenValue}`);
    return this.fetchImpl(this.baseUrl + path, { ...init, headers });
  };

  private async json<T>(method: string, path: string, options: CallOptions & { body?: unknown } = {}): Promise<T> {
    const init: RequestInit = { method, signal: options.signal ?? null, headers: { Accept: 'application/json' } };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      init.headers = { Accept: 'application/json', 'Content-Type': 'application/json' };
    }
    const response = await this.fetchPath(path, init);
    if (!response.ok) throw await errorFromResponse(response);
    return (await response.json()) as T;
  }

  health(options?: CallOptions): Promise<Health> {
    return this.json('GET', '/health', options);
  }

  // {"ready":true} or, while loading or after a failed load, {"ready":false,"reason"} (a 503).
  async ready(options?: CallOptions): Promise<Readiness> {
    const response = await this.fetchPath('/ready', { signal: options?.signal ?? null });
    if (response.status !== 200 && response.status !== 503) throw await errorFromResponse(response);
    return (await response.json()) as Readiness;
  }

  info(options?: CallOptions): Promise<WorkerInfo> {
    return this.json('GET', '/info', options);
  }

  models(options?: CallOptions): Promise<ModelList> {
    return this.json('GET', '/v1/models', options);
  }

  // The worker's OpenAPI document (GET /openapi.json).
  openapi(options?: CallOptions): Promise<Record<string, unknown>> {
    return this.json('GET', '/openapi.json', options);
  }

  // The samplers the worker runs, from its document (components.schemas.SchedulerName.enum).
  async schedulers(options?: CallOptions): Promise<SchedulerName[]> {
    const doc = (await this.openapi(options)) as { components?: { schemas?: { SchedulerName?: { enum?: unknown } } } };
    const names = doc.components?.schemas?.SchedulerName?.enum;
    return Array.isArray(names) ? (names.filter((n) => typeof n === 'string') as SchedulerName[]) : [];
  }

  // The LoRAs the worker offers (GET /v1/loras), or null when this worker has no such route (404).
  // Items are read as {name, path} whatever the list's shape ({"data":[...]} or a bare array;
  // strings or objects with path/name/id).
  async loras(options?: CallOptions): Promise<LoraEntry[] | null> {
    const response = await this.fetchPath('/v1/loras', { signal: options?.signal ?? null, headers: { Accept: 'application/json' } });
    if (response.status === 404 || response.status === 405) return null;
    if (!response.ok) throw await errorFromResponse(response);
    const body = (await response.json()) as LoraListResponse;
    return normaliseLoras(body);
  }

  // The model name jobs use: the option, else the served model's id (read once).
  async defaultModel(options?: CallOptions): Promise<string> {
    if (!this.model) this.model = (await this.models(options)).data[0]?.id ?? 'demo';
    return this.model;
  }

  submit(request: JobRequest, options?: CallOptions): Promise<JobAccepted> {
    return this.json('POST', '/v1/jobs', { ...options, body: request });
  }

  async textToImage(params: TextToImageParams, options?: CallOptions): Promise<JobAccepted> {
    return this.submit(await this.buildRequest('image_generation', params, options), options);
  }

  async imageToImage(params: ImageToImageParams, options?: CallOptions): Promise<JobAccepted> {
    return this.submit(await this.buildRequest('image_transform', params, options), options);
  }

  async inpaint(params: InpaintParams, options?: CallOptions): Promise<JobAccepted> {
    return this.submit(await this.buildRequest('image_inpaint', params, options), options);
  }

  // The request of `operation` from its parameters: hive_id and model filled in where left out.
  async buildRequest<O extends Operation>(operation: O, params: ParamsOf<O>, options?: CallOptions): Promise<RequestOf<O>> {
    const model = params.model ?? (await this.defaultModel(options));
    return { ...params, operation, hive_id: params.hive_id ?? this.hiveId, model } as unknown as RequestOf<O>;
  }

  status(jobId: string, options?: CallOptions): Promise<JobStatus> {
    return this.json('GET', `/v1/jobs/${encodeURIComponent(jobId)}`, options);
  }

  cancel(jobId: string, options?: CallOptions): Promise<JobCancelled> {
    return this.json('DELETE', `/v1/jobs/${encodeURIComponent(jobId)}`, options);
  }

  // The job's events, then its end (see stream.ts); resumes after dropped connections.
  events(jobId: string, options?: StreamOptions): AsyncGenerator<StreamItem> {
    return jobEvents(this.fetchPath, jobId, options);
  }

  // Submits `request` and follows its stream to the end: the result, or JobFailedError /
  // JobCancelledError / WorkerApiError. Aborting the signal stops following (the job goes on
  // unless it was submitted with cancel_on_disconnect).
  async generate(request: JobRequest, options: GenerateOptions = {}): Promise<GenerationResult> {
    const accepted = await this.submit(request, options);
    options.onAccepted?.(accepted);
    return this.follow(accepted.job_id, options);
  }

  async follow(jobId: string, options: GenerateOptions = {}): Promise<GenerationResult> {
    let complete: CompleteEvent | undefined;
    let failure: { message: string; code?: string | undefined } | undefined;
    for await (const item of this.events(jobId, { signal: options.signal })) {
      if (item.kind === 'event') {
        options.onEvent?.(item.event);
        if (item.event.type === 'complete') complete = item.event;
        if (item.event.type === 'error') failure = { message: item.event.message, code: item.event.code };
        continue;
      }
      if (item.outcome === 'done' && complete) return { jobId, complete, images: imagesOf(complete) };
      if (item.outcome === 'cancelled') throw new JobCancelledError(jobId);
      throw new JobFailedError(jobId, failure?.message ?? item.message ?? 'the job failed', failure?.code);
    }
    // A 204 (the end was sent before): read the result from the job's status.
    const status = await this.status(jobId, options);
    if (status.state === 'completed' && status.result) return { jobId, complete: status.result, images: imagesOf(status.result) };
    if (status.state === 'cancelled') throw new JobCancelledError(jobId, status.error);
    throw new JobFailedError(jobId, status.error ?? `the job is ${status.state}`);
  }
}

export function imagesOf(complete: CompleteEvent): string[] {
  if (complete.images && complete.images.length > 0) return complete.images;
  return complete.image ? [complete.image] : [];
}

function normaliseLoras(body: unknown): LoraEntry[] {
  const list: unknown[] = Array.isArray(body)
    ? body
    : typeof body === 'object' && body !== null
      ? (Object.values(body).find((v) => Array.isArray(v)) as unknown[] | undefined) ?? []
      : [];
  const out: LoraEntry[] = [];
  for (const item of list) {
    if (typeof item === 'string') {
      out.push({ name: item, path: item });
    } else if (typeof item === 'object' && item !== null) {
      const o = item as Record<string, unknown>;
      const path = [o.path, o.name, o.id].find((v) => typeof v === 'string') as string | undefined;
      const name = [o.name, o.id, o.path].find((v) => typeof v === 'string') as string | undefined;
      if (path && name) out.push({ name, path });
    }
  }
  return out;
}

export { WorkerApiError };
