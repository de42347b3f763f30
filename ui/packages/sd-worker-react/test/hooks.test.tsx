// The hooks rendered in jsdom against a real sd-worker (demo model) on loopback: progress and
// previews as the job runs, then the result; cancel mid-job; the worker's error shape in the
// error state; the queue position of a waiting job; unmount closes the stream (a job that asked
// for cancel_on_disconnect is then cancelled by the worker); img2img and inpainting.
import { act, cleanup, renderHook, waitFor } from '@testing-library/react';
import type { ReactNode } from 'react';
import { SdWorkerClient, WorkerApiError } from 'sd-worker-sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SdWorkerProvider, useGenerationProgress, useImageToImage, useInpainting, useTextToImage } from '../src';
import { startWorker, type WorkerHandle } from '../../../test-support/worker';

let worker: WorkerHandle;
let client: SdWorkerClient;

beforeAll(async () => {
  worker = await startWorker();
  client = new SdWorkerClient({ baseUrl: worker.url });
});
afterAll(async () => {
  await worker?.stop();
});
afterEach(cleanup);

const wrapper = ({ children }: { children?: ReactNode }) => <SdWorkerProvider client={client}>{children}</SdWorkerProvider>;
const waitLong = { timeout: 30_000 };

describe('useTextToImage', () => {
  it('shows progress and previews while the job runs, then the result', async () => {
    const seen: { status: string; step: number | undefined; eta: number | undefined; preview: boolean }[] = [];
    const { result } = renderHook(
      () => {
        const hook = useTextToImage();
        seen.push({ status: hook.status, step: hook.progress?.step, eta: hook.progress?.etaMs, preview: !!hook.preview });
        return hook;
      },
      { wrapper },
    );
    expect(result.current.status).toBe('idle');
    await act(async () => {
      void result.current.generate({ prompt: 'a lighthouse', width: 128, height: 128, steps: 60, preview_every: 5, seed: 3 });
    });
    await waitFor(() => expect(result.current.status).toBe('completed'), waitLong);
    const steps = seen.map((s) => s.step).filter((s): s is number => s !== undefined);
    expect(steps.length).toBeGreaterThan(1);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);  // never backwards
    expect(seen.some((s) => s.status === 'running' && s.step !== undefined && s.step < 60)).toBe(true);
    expect(seen.some((s) => s.eta !== undefined)).toBe(true);
    expect(seen.some((s) => s.preview)).toBe(true);
    expect(result.current.preview?.url).toMatch(/^data:image\/png;base64,/);
    expect(result.current.result?.images.length).toBe(1);
    expect(result.current.result?.complete.seed).toBe(3);
    expect(result.current.isBusy).toBe(false);
    act(() => result.current.reset());
    expect(result.current.status).toBe('idle');
  });

  it('cancel() mid-job ends in the cancelled state', async () => {
    const { result } = renderHook(() => useTextToImage(), { wrapper });
    await act(async () => {
      void result.current.generate({ prompt: 'slow', width: 256, height: 256, steps: 150 });
    });
    await waitFor(() => expect(result.current.progress?.step ?? 0).toBeGreaterThan(0), waitLong);
    const jobId = result.current.jobId ?? '';
    await act(() => result.current.cancel());
    await waitFor(() => expect(result.current.status).toBe('cancelled'), waitLong);
    expect((await client.status(jobId)).state).toBe('cancelled');
  });

  it('a refused request: the failed state with the worker\'s error', async () => {
    const { result } = renderHook(() => useTextToImage(), { wrapper });
    await act(async () => {
      await result.current.generate({ prompt: 'x', width: 64, height: 64, steps: 500 });
    });
    expect(result.current.status).toBe('failed');
    expect(result.current.error).toBeInstanceOf(WorkerApiError);
    expect((result.current.error as WorkerApiError).param).toBe('steps');
  });

  it('unmount closes the stream: a cancel_on_disconnect job is cancelled by the worker', async () => {
    const { result, unmount } = renderHook(() => useTextToImage(), { wrapper });
    await act(async () => {
      void result.current.generate({ prompt: 'leave', width: 256, height: 256, steps: 150, cancel_on_disconnect: true });
    });
    await waitFor(() => expect(result.current.progress?.step ?? 0).toBeGreaterThan(0), waitLong);
    const jobId = result.current.jobId ?? '';
    unmount();
    await waitFor(async () => expect((await client.status(jobId)).state).toBe('cancelled'), waitLong);
  });
});

describe('useGenerationProgress', () => {
  it('follows a job submitted elsewhere: its queue position, then its progress and result', async () => {
    const blocker = await client.textToImage({ prompt: 'first', width: 256, height: 256, steps: 150 });
    const waiting = await client.textToImage({ prompt: 'second', width: 64, height: 64, steps: 3 });
    const { result } = renderHook(() => useGenerationProgress(waiting.job_id), { wrapper });
    await waitFor(() => expect(result.current.queuePosition).toBe(1), waitLong);
    expect(result.current.status).toBe('queued');
    await client.cancel(blocker.job_id);
    await waitFor(() => expect(result.current.status).toBe('completed'), waitLong);
    expect(result.current.queuePosition).toBeUndefined();
    expect(result.current.progress?.step).toBe(3);
    expect(result.current.result?.jobId).toBe(waiting.job_id);
  });
});

describe('useImageToImage and useInpainting', () => {
  it('run from a generated image', async () => {
    const first = await client.generate(await client.buildRequest('image_generation', { prompt: 'base', width: 64, height: 64, steps: 3 }));
    const image = first.images[0] ?? '';
    const i2i = renderHook(() => useImageToImage(), { wrapper });
    await act(async () => {
      await i2i.result.current.generate({ prompt: 'night', input_image: image, strength: 0.5, steps: 6 });
    });
    expect(i2i.result.current.status).toBe('completed');
    const inpaint = renderHook(() => useInpainting(), { wrapper });
    await act(async () => {
      await inpaint.result.current.generate({ prompt: 'moon', init_image: image, mask_image: image, steps: 4 });
    });
    expect(inpaint.result.current.status).toBe('completed');
    expect(inpaint.result.current.result?.complete.width).toBe(64);
  });
});
