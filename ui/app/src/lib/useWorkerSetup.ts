// What the app needs to know about the worker before the first job: the served model (family,
// default size and steps), its samplers (from /openapi.json) and its LoRAs (null: the worker has
// no /v1/loras). A 401 means the worker wants a token: `needsToken`.
import { useCallback, useEffect, useState } from 'react';
import { WorkerApiError, type LoraEntry, type SdWorkerClient, type ServedModel } from 'sd-worker-sdk';

export interface WorkerSetup {
  state: 'loading' | 'ready' | 'needs-token' | 'error';
  model: ServedModel | undefined;
  schedulers: string[];
  loras: LoraEntry[] | null;
  error: Error | undefined;
  reload: () => void;
}

function schedulersOf(doc: Record<string, unknown> | undefined): string[] {
  const names = (doc as { components?: { schemas?: { SchedulerName?: { enum?: unknown } } } } | undefined)?.components?.schemas?.SchedulerName?.enum;
  return Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string') : [];
}

function hasPath(doc: Record<string, unknown> | undefined, path: string): boolean {
  const paths = (doc as { paths?: Record<string, unknown> } | undefined)?.paths;
  return !!paths && path in paths;
}

export function useWorkerSetup(client: SdWorkerClient): WorkerSetup {
  const [attempt, setAttempt] = useState(0);
  const [setup, setSetup] = useState<Omit<WorkerSetup, 'reload'>>({
    state: 'loading',
    model: undefined,
    schedulers: [],
    loras: null,
    error: undefined,
  });
  const reload = useCallback(() => setAttempt((n) => n + 1), []);

  useEffect(() => {
    const controller = new AbortController();
    const signal = controller.signal;
    setSetup((s) => ({ ...s, state: 'loading', error: undefined }));
    (async () => {
      try {
        const [models, doc] = await Promise.all([client.models({ signal }), client.openapi({ signal }).catch(() => undefined)]);
        const schedulers = schedulersOf(doc);
        // LoRAs only where the worker's document lists GET /v1/loras (no 404 probe otherwise).
        const loras = hasPath(doc, '/v1/loras') ? await client.loras({ signal }).catch(() => null) : null;
        const model = models.data[0];
        // A model still loading has no family or defaults yet: look again shortly.
        if (model && model.status === 'loading') setTimeout(() => !signal.aborted && setAttempt((n) => n + 1), 1500);
        setSetup({ state: 'ready', model, schedulers, loras, error: undefined });
      } catch (error) {
        if (signal.aborted) return;
        const needsToken = error instanceof WorkerApiError && error.isAuthError;
        setSetup((s) => ({ ...s, state: needsToken ? 'needs-token' : 'error', error: error as Error }));
      }
    })();
    return () => controller.abort();
  }, [client, attempt]);

  return { ...setup, reload };
}
