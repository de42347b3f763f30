// useTextToImage, useImageToImage, useInpainting: generate(params) submits the operation (hive_id
// and model filled in by the client) and follows the job; the state says where it is (status,
// progress with ETA, preview, queue position, result, error: a WorkerApiError carries the
// worker's code and the field at fault). cancel() cancels the job (or the submission still in
// flight), reset() forgets the last one. Unmount, or a new generate(), stops following.
import { useCallback, useEffect, useReducer, useRef } from 'react';
import type {
  GenerationResult,
  ImageToImageParams,
  InpaintParams,
  JobRequest,
  Operation,
  ParamsOf,
  SdWorkerClient,
  TextToImageParams,
} from 'sd-worker-sdk';
import { useSdWorkerClient } from './context';
import { followJob } from './follow';
import { initialState, reduce, type GenerationState } from './state';
import { cancelQuietly } from './useGenerationProgress';

export interface GenerationHook<P> extends GenerationState {
  generate: (params: P) => Promise<GenerationResult | undefined>;
  cancel: () => Promise<void>;
  reset: () => void;
  isBusy: boolean;
}

export interface HookOptions {
  client?: SdWorkerClient;
}

function useGeneration<O extends Operation>(operation: O, options: HookOptions): GenerationHook<ParamsOf<O>> {
  const client = useSdWorkerClient(options.client);
  const [state, dispatch] = useReducer(reduce, initialState);
  const controller = useRef<AbortController | null>(null);
  const jobId = useRef<string | undefined>(undefined);
  const cancelWanted = useRef(false);

  useEffect(() => () => controller.current?.abort(), []);

  const generate = useCallback(
    async (params: ParamsOf<O>) => {
      controller.current?.abort();
      const current = new AbortController();
      controller.current = current;
      jobId.current = undefined;
      cancelWanted.current = false;
      dispatch({ type: 'submitting' });
      try {
        const request: JobRequest = await client.buildRequest(operation, params, { signal: current.signal });
        const accepted = await client.submit(request, { signal: current.signal });
        if (current.signal.aborted) return undefined;
        jobId.current = accepted.job_id;
        dispatch({ type: 'accepted', jobId: accepted.job_id });
        if (cancelWanted.current) void cancelQuietly(client, accepted.job_id).catch(() => undefined);
        return await followJob(client, accepted.job_id, dispatch, current.signal);
      } catch (error) {
        if (current.signal.aborted) return undefined;
        dispatch({ type: 'failed', error: error instanceof Error ? error : new Error(String(error)) });
        return undefined;
      }
    },
    [client, operation],
  );

  const cancel = useCallback(async () => {
    cancelWanted.current = true;
    if (jobId.current) await cancelQuietly(client, jobId.current);
  }, [client]);

  const reset = useCallback(() => {
    controller.current?.abort();
    jobId.current = undefined;
    dispatch({ type: 'reset' });
  }, []);

  const isBusy = state.status === 'submitting' || state.status === 'queued' || state.status === 'running';
  return { ...state, generate, cancel, reset, isBusy };
}

export function useTextToImage(options: HookOptions = {}): GenerationHook<TextToImageParams> {
  return useGeneration('image_generation', options);
}

export function useImageToImage(options: HookOptions = {}): GenerationHook<ImageToImageParams> {
  return useGeneration('image_transform', options);
}

export function useInpainting(options: HookOptions = {}): GenerationHook<InpaintParams> {
  return useGeneration('image_inpaint', options);
}
