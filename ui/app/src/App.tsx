// The app: header (model, theme), the three modes as tabs, the parameters (with the init image
// and mask editor where the mode needs them), Generate (also Ctrl+Enter), progress, gallery and
// prompt history. State lives here; the components are presentational; the hooks own the jobs.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { WorkerApiError } from 'sd-worker-sdk';
import { useImageToImage, useInpainting, useTextToImage } from 'sd-worker-react';
import { ErrorMessage } from './components/ErrorMessage';
import { Gallery, type GalleryItem } from './components/Gallery';
import { GenerateForm } from './components/GenerateForm';
import { ImageInput } from './components/ImageInput';
import { MaskEditor, type MaskEditorHandle } from './components/MaskEditor';
import { ProgressPanel } from './components/ProgressPanel';
import { PromptHistory } from './components/PromptHistory';
import { Tabs, kModes, type Mode } from './components/Tabs';
import { ThemeToggle } from './components/ThemeToggle';
import { TokenDialog } from './components/TokenDialog';
import { commonFields, defaultValues, type FormValues } from './lib/formValues';
import { addToHistory, clearHistory, loadHistory } from './lib/history';
import type { LoadedImage } from './lib/images';
import { outputSizeFor } from './lib/presets';
import { useResults, type Submitted } from './lib/useResults';
import { useWorkerSetup } from './lib/useWorkerSetup';
import { createClient, storeToken } from './lib/workerClient';

const modeFromHash = (): Mode => kModes.find((m) => `#${m.id}` === window.location.hash)?.id ?? 'txt2img';

export function App() {
  const [client] = useState(createClient);
  const setup = useWorkerSetup(client);
  const [tokenTried, setTokenTried] = useState(false);
  const [mode, setModeState] = useState<Mode>(modeFromHash);
  const [values, setValues] = useState<FormValues>(defaultValues);
  const [images, setImages] = useState<Partial<Record<Mode, LoadedImage>>>({});
  const [gallery, setGallery] = useState<GalleryItem[]>([]);
  const [history, setHistory] = useState(loadHistory);
  const [localError, setLocalError] = useState<Error | undefined>(undefined);
  const [submitted, setSubmitted] = useState<Partial<Record<Mode, Submitted>>>({});
  const mask = useRef<MaskEditorHandle>(null);

  const hooks = { txt2img: useTextToImage({ client }), img2img: useImageToImage({ client }), inpaint: useInpainting({ client }) };
  // The job in progress, whichever mode started it (one at a time), else this mode's last one.
  const active = [hooks.txt2img, hooks.img2img, hooks.inpaint].find((h) => h.isBusy) ?? hooks[mode];
  const addItems = useCallback((items: GalleryItem[]) => setGallery((g) => [...items.slice().reverse(), ...g]), []);
  useResults('txt2img', hooks.txt2img, submitted.txt2img, addItems);
  useResults('img2img', hooks.img2img, submitted.img2img, addItems);
  useResults('inpaint', hooks.inpaint, submitted.inpaint, addItems);

  const setMode = useCallback((m: Mode) => {
    setModeState(m);
    setLocalError(undefined);
    window.history.replaceState(null, '', `#${m}`);
  }, []);
  const change = useCallback((patch: Partial<FormValues>) => setValues((v) => ({ ...v, ...patch })), []);

  // The served model's defaults, once it is known.
  const model = setup.model;
  useEffect(() => {
    if (!model?.default_width || !model.default_height) return;
    setValues((v) => ({ ...v, width: model.default_width ?? v.width, height: model.default_height ?? v.height, steps: model.default_steps ?? v.steps }));
  }, [model?.id, model?.default_width, model?.default_height, model?.default_steps]);

  const familySide = Math.max(model?.default_width ?? 512, model?.default_height ?? 512);
  const image = mode === 'txt2img' ? undefined : images[mode];
  const outputSize = image ? outputSizeFor(image.width, image.height, familySide) : undefined;

  const generate = () => {
    if (active.isBusy) return;
    setLocalError(undefined);
    const common = commonFields(values, (setup.loras?.length ?? 0) > 0);
    if (mode === 'txt2img') {
      void hooks.txt2img.generate({ ...common, width: values.width, height: values.height });
    } else {
      if (!image) {
        setLocalError(new Error('Choose an init image first: drop one here, paste one, or pick a file.'));
        return;
      }
      if (mode === 'img2img') {
        void hooks.img2img.generate({ ...common, ...outputSize, input_image: image.dataUrl, strength: values.strength });
      } else {
        const maskImage = mask.current?.exportMask();
        if (!maskImage) {
          setLocalError(new Error('Paint the area to repaint on the mask first.'));
          return;
        }
        void hooks.inpaint.generate({ ...common, ...outputSize, init_image: image.dataUrl, mask_image: maskImage, strength: values.strength });
      }
    }
    const size = mode === 'txt2img' ? values : outputSize ?? { width: image?.width ?? 0, height: image?.height ?? 0 };
    setSubmitted((s) => ({ ...s, [mode]: { values, width: size.width, height: size.height } }));
    if (values.prompt.trim()) setHistory((h) => addToHistory(h, values.prompt, values.negativePrompt));
  };
  const generateRef = useRef(generate);
  generateRef.current = generate;

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') {
        e.preventDefault();
        generateRef.current();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const error = localError ?? active.error;
  const authFailed = error instanceof WorkerApiError && error.isAuthError;
  const invalidField = error instanceof WorkerApiError ? error.param?.split(/[.[]/)[0] : undefined;
  const needsToken = setup.state === 'needs-token' || authFailed;

  const onToken = (token: string, remember: boolean) => {
    client.setToken(token);
    storeToken(token, remember);
    setTokenTried(true);
    if (authFailed) active.reset();
    setup.reload();
  };

  const onSend = (item: GalleryItem, target: Mode) => {
    const loaded: LoadedImage = { dataUrl: `data:image/${item.format};base64,${item.image}`, width: item.width, height: item.height, name: `result ${item.seed}` };
    setImages((i) => ({ ...i, [target]: loaded }));
    setMode(target);
  };

  const lastSeed = gallery[0]?.seed;
  const modelLine = useMemo(() => {
    if (setup.state === 'loading' && !model) return 'Connecting to the worker…';
    if (setup.state === 'error') return 'The worker cannot be reached';
    if (!model) return '';
    const devices = model.devices.map((d) => d.device).join(', ');
    const family = model.family && model.family !== model.id ? ` · ${model.family}` : '';
    return `${model.id}${family}${devices ? ` · ${devices}` : ''} · ${model.status}`;
  }, [setup.state, model]);

  return (
    <div className="app">
      <header className="header">
        <h1>sd-worker</h1>
        <span className="model-line">{modelLine}</span>
        <div className="header-actions">
          {client.token ? (
            <button type="button" className="icon-button" aria-label="Forget API token" title="Forget API token"
              onClick={() => { storeToken(undefined, false); client.setToken(undefined); setup.reload(); }}>⚿</button>
          ) : null}
          <ThemeToggle />
        </div>
      </header>
      {setup.state === 'error' ? <ErrorMessage error={setup.error} /> : null}
      <Tabs mode={mode} onChange={setMode} />
      <main id="mode-panel" role="tabpanel" aria-labelledby={`tab-${mode}`} className="layout">
        <section className="controls" aria-label="Parameters">
          {mode !== 'txt2img' ? (
            <ImageInput image={image} onImage={(img) => setImages((i) => ({ ...i, [mode]: img }))} onError={setLocalError}
              showPreview={mode === 'img2img'} />
          ) : null}
          {mode === 'inpaint' && image ? <MaskEditor ref={mask} image={image} /> : null}
          <GenerateForm mode={mode} values={values} onChange={change} family={model?.family}
            defaultSize={model?.default_width && model.default_height ? { width: model.default_width, height: model.default_height } : undefined}
            schedulers={setup.schedulers} loras={setup.loras} lastSeed={lastSeed} invalidField={invalidField} errorId="form-error"
            outputSize={image ? `${(outputSize ?? image).width} × ${(outputSize ?? image).height}` : undefined} />
          <div className="actions">
            <button type="button" className="primary" onClick={generate} disabled={active.isBusy} aria-keyshortcuts="Control+Enter">
              Generate
            </button>
            <span className="hint">Ctrl+Enter</span>
          </div>
          {authFailed ? null : <ErrorMessage error={error} id="form-error" />}
          <PromptHistory entries={history} onPick={(e) => change({ prompt: e.prompt, negativePrompt: e.negativePrompt })}
            onClear={() => setHistory(clearHistory())} />
        </section>
        <section className="results" aria-label="Results">
          <ProgressPanel state={active} busy={active.isBusy} onCancel={() => void active.cancel().catch(setLocalError)} />
          <Gallery items={gallery} onSend={onSend} onReuseSeed={(seed) => change({ seed })} />
        </section>
      </main>
      {needsToken ? <TokenDialog rejected={tokenTried} onSubmit={onToken} /> : null}
    </div>
  );
}
