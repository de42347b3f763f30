// SdWorkerClient against a real sd-worker (demo model) on loopback: every route it wraps, a job's
// events in order with previews and the PNG's parameters chunk, resuming with Last-Event-ID,
// cancel mid-job, abort signals, the error shape as WorkerApiError, the token, and /v1/loras.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  JobCancelledError,
  SdWorkerClient,
  WorkerApiError,
  base64ToBytes,
  isPng,
  pngTextChunks,
  type JobEvent,
  type StreamItem,
} from '../src';
import { startWorker, type WorkerHandle } from '../../../test-support/worker';

let worker: WorkerHandle;
let client: SdWorkerClient;

beforeAll(async () => {
  worker = await startWorker();
  client = new SdWorkerClient({ baseUrl: worker.url, hiveId: 'sdk-test' });
});
afterAll(async () => {
  await worker?.stop();
});

const small = { width: 64, height: 64 } as const;

async function collect(items: AsyncGenerator<StreamItem>): Promise<StreamItem[]> {
  const out: StreamItem[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe('service routes', () => {
  it('reads health, readiness, info, models, the document and its samplers', async () => {
    expect(await client.health()).toEqual({ status: 'healthy' });
    expect(await client.ready()).toEqual({ ready: true });
    const info = await client.info();
    expect(info.implementation).toBe('sd-worker-cpp');
    expect(info.port).toBe(worker.port);
    const models = await client.models();
    expect(models.data[0]?.id).toBe('demo');
    expect(models.data[0]?.family).toBe('demo');
    expect(await client.defaultModel()).toBe('demo');
    const doc = await client.openapi();
    expect(doc.openapi).toMatch(/^3\.1\./);
    const schedulers = await client.schedulers();
    expect(schedulers).toContain('euler_a');
    expect(schedulers).toContain('dpmpp_2m_karras');
  });

  it('reads /v1/loras when the worker has it, null when it does not', async () => {
    const doc = (await client.openapi()) as { paths: Record<string, unknown> };
    const loras = await client.loras();
    if ('/v1/loras' in doc.paths) expect(Array.isArray(loras)).toBe(true);
    else expect(loras).toBeNull();
  });
});

describe('jobs', () => {
  it('txt2img: progress in order, previews, then the images with their parameters chunk', async () => {
    const events: JobEvent[] = [];
    let accepted = '';
    const result = await client.generate(
      await client.buildRequest('image_generation', { prompt: 'a red fox', seed: 42, steps: 6, preview_every: 2, num_images: 2, ...small }),
      { onEvent: (e) => events.push(e), onAccepted: (a) => (accepted = a.job_id) },
    );
    expect(result.jobId).toBe(accepted);
    const steps = events.filter((e) => e.type === 'progress').map((e) => (e.type === 'progress' ? e.step : 0));
    expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
    const previews = events.filter((e) => e.type === 'preview');
    expect(previews.length).toBeGreaterThanOrEqual(2);  // every 2nd step (the last one is the image itself)
    for (const p of previews) if (p.type === 'preview') expect(p.step % 2).toBe(0);
    for (const p of previews) if (p.type === 'preview') expect(isPng(base64ToBytes(p.image ?? ''))).toBe(true);
    expect(events.some((e) => e.type === 'narration' && e.action === 'job_queued')).toBe(true);
    expect(result.complete.seed).toBe(42);
    expect(result.complete.num_images).toBe(2);
    expect(result.images.length).toBe(2);
    const chunks = pngTextChunks(base64ToBytes(result.images[0] ?? ''));
    expect(chunks.parameters).toMatch(/^a red fox\n/);
    expect(chunks.parameters).toMatch(/Seed: 42/);
    const status = await client.status(result.jobId);
    expect(status.state).toBe('completed');
    expect(status.result?.seed).toBe(42);
  });

  it('events(): ids in order, then the end; Last-Event-ID resumes after an id; 204 after the end', async () => {
    const { job_id } = await client.textToImage({ prompt: 'a boat', steps: 4, seed: 1, ...small });
    const all = await collect(client.events(job_id));
    expect(all.map((i) => i.id)).toEqual(all.map((_, k) => k + 1));
    const end = all.at(-1);
    expect(end).toMatchObject({ kind: 'end', outcome: 'done' });
    const tail = await collect(client.events(job_id, { lastEventId: 3 }));
    expect(tail).toEqual(all.slice(3));
    expect(await collect(client.events(job_id, { lastEventId: end?.id }))).toEqual([]);
    const again = await client.follow(job_id);  // a 204: the result comes from the status
    expect(again.complete.seed).toBe(1);
  });

  it('img2img and inpainting from a generated image', async () => {
    const first = await client.generate(await client.buildRequest('image_generation', { prompt: 'a field', steps: 3, seed: 5, ...small }));
    const image = first.images[0] ?? '';
    const { job_id: transformId } = await client.imageToImage({ prompt: 'a field at night', input_image: image, strength: 0.6, steps: 5 });
    const transformed = await client.follow(transformId);
    expect([transformed.complete.width, transformed.complete.height]).toEqual([64, 64]);
    const { job_id: inpaintId } = await client.inpaint({ prompt: 'a tree', init_image: image, mask_image: image, steps: 4 });
    expect((await client.follow(inpaintId)).images.length).toBe(1);
  });

  it('cancel mid-job: the stream ends [CANCELLED], follow() throws JobCancelledError', async () => {
    let jobId = '';
    let cancelled = false;
    const run = client.generate(
      await client.buildRequest('image_generation', { prompt: 'slow', steps: 150, width: 256, height: 256 }),
      {
        onAccepted: (a) => (jobId = a.job_id),
        onEvent: (e) => {
          if (e.type === 'progress' && !cancelled) {
            cancelled = true;
            void client.cancel(jobId);
          }
        },
      },
    );
    await expect(run).rejects.toBeInstanceOf(JobCancelledError);
    const status = await client.status(jobId);
    expect(status.state).toBe('cancelled');
    expect(status.step).toBeLessThan(150);
  });

  it('an aborted signal stops following; the job goes on', async () => {
    const controller = new AbortController();
    const { job_id } = await client.textToImage({ prompt: 'abort me', steps: 40, ...small });
    const run = client.follow(job_id, { signal: controller.signal, onEvent: (e) => e.type === 'progress' && controller.abort() });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    const result = await client.follow(job_id);
    expect(result.complete.steps).toBe(40);
  });
});

describe('errors', () => {
  it('a refused request is a WorkerApiError with the code, the field and the request id', async () => {
    const error = await client.textToImage({ prompt: 'x', steps: 500, ...small }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerApiError);
    const e = error as WorkerApiError;
    expect(e.status).toBe(400);
    expect(e.code).toBe('INVALID_FIELD');
    expect(e.type).toBe('invalid_request_error');
    expect(e.param).toBe('steps');
    expect(e.message).toMatch(/steps must be .*between 1 and 150/);
    expect(e.requestId).toMatch(/^req-/);
    await expect(client.textToImage({ prompt: 'x', model: 'other', ...small })).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND', param: 'model' });
    await expect(client.status('job-00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ status: 404, code: 'JOB_NOT_FOUND' });
    await expect(collect(client.events('job-00000000-0000-4000-8000-000000000000'))).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
  });

  it('a worker with a token: 401 without it, everything works with it (the stream too)', async () => {
    const locked = await startWorker(['--api-token', 'sdk-secret']);
    try {
      const anonymous = new SdWorkerClient({ baseUrl: locked.url });
      const missing = await anonymous.models().catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(WorkerApiError);
      expect((missing as WorkerApiError).isAuthError).toBe(true);
      expect((missing as WorkerApiError).code).toBe('MISSING_API_KEY');
      anonymous.setToken('wrong');
      await expect(anonymous.models()).rejects.toMatchObject({ status: 401, code: 'INVALID_API_KEY' });
      anonymous.setToken('sdk-secret');
      const result = await anonymous.generate(await anonymous.buildRequest('image_generation', { prompt: 'locked', steps: 2, ...small }));
      expect(result.images.length).toBe(1);
      expect(await anonymous.health()).toEqual({ status: 'healthy' });
    } finally {
      await locked.stop();
    }
  });
});
