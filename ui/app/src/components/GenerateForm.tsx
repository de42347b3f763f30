// The generation parameters: prompt and negative prompt, size presets for the served family,
// steps, guidance, the worker's samplers, seed (random or reused), number of images, strength
// (img2img and inpainting) and LoRAs (when the worker offers them). Presentational: the values
// live in the App.
import type { LoraEntry } from 'sd-worker-sdk';
import { kFieldIds, type FormValues } from '../lib/formValues';
import { Field } from './Field';
import { presetsFor } from '../lib/presets';
import { samplerLabel } from '../lib/samplers';
import type { Mode } from './Tabs';

export interface GenerateFormProps {
  mode: Mode;
  values: FormValues;
  onChange: (patch: Partial<FormValues>) => void;
  family: string | undefined;
  defaultSize: { width: number; height: number } | undefined;
  schedulers: string[];
  loras: LoraEntry[] | null;
  lastSeed: string | undefined;
  invalidField: string | undefined;  // the request field the last error named
  errorId: string;
  outputSize: string | undefined;    // img2img/inpainting: the size the job will have
}

const num = (text: string, fallback: number) => (text.trim() === '' || Number.isNaN(Number(text)) ? fallback : Number(text));

export function GenerateForm(p: GenerateFormProps) {
  const { values: v, onChange } = p;
  const invalid = (field: string) =>
    p.invalidField === field ? { 'aria-invalid': true as const, 'aria-describedby': p.errorId } : {};
  const presets = presetsFor(p.family, p.defaultSize?.width, p.defaultSize?.height);
  const preset = presets.find((s) => s.width === v.width && s.height === v.height);
  return (
    <div className="form">
      <Field id={kFieldIds.prompt} label="Prompt">
        <textarea id={kFieldIds.prompt} rows={3} value={v.prompt} placeholder="a lighthouse at dusk, oil painting"
          onChange={(e) => onChange({ prompt: e.target.value })} {...invalid('prompt')} />
      </Field>
      <Field id={kFieldIds.negative_prompt} label="Negative prompt">
        <textarea id={kFieldIds.negative_prompt} rows={2} value={v.negativePrompt} placeholder="blurry, low quality"
          onChange={(e) => onChange({ negativePrompt: e.target.value })} {...invalid('negative_prompt')} />
      </Field>

      {p.mode === 'txt2img' ? (
        <fieldset className="group">
          <legend>Size</legend>
          <Field id="field-size-preset" label="Size preset">
            <select id="field-size-preset" value={preset ? preset.label : 'custom'}
              onChange={(e) => {
                const s = presets.find((x) => x.label === e.target.value);
                if (s) onChange({ width: s.width, height: s.height });
              }}>
              {presets.map((s) => (
                <option key={s.label} value={s.label}>{s.label}</option>
              ))}
              <option value="custom" disabled>Custom</option>
            </select>
          </Field>
          <div className="row">
            <Field id={kFieldIds.width} label="Width">
              <input id={kFieldIds.width} type="number" inputMode="numeric" step={8} min={8} value={v.width}
                onChange={(e) => onChange({ width: num(e.target.value, v.width) })} {...invalid('width')} />
            </Field>
            <Field id={kFieldIds.height} label="Height">
              <input id={kFieldIds.height} type="number" inputMode="numeric" step={8} min={8} value={v.height}
                onChange={(e) => onChange({ height: num(e.target.value, v.height) })} {...invalid('height')} />
            </Field>
          </div>
        </fieldset>
      ) : (
        <p className="hint">Output size: {p.outputSize ?? 'the image’s size'}</p>
      )}

      <div className="row">
        <Field id={kFieldIds.steps} label="Steps">
          <input id={kFieldIds.steps} type="number" inputMode="numeric" min={1} value={v.steps}
            onChange={(e) => onChange({ steps: num(e.target.value, v.steps) })} {...invalid('steps')} />
        </Field>
        <Field id={kFieldIds.guidance_scale} label="Guidance scale">
          <input id={kFieldIds.guidance_scale} type="number" inputMode="decimal" min={0} step={0.5} value={v.guidance}
            onChange={(e) => onChange({ guidance: num(e.target.value, v.guidance) })} {...invalid('guidance_scale')} />
        </Field>
      </div>
      <div className="row">
        <Field id={kFieldIds.scheduler} label="Sampler">
          <select id={kFieldIds.scheduler} value={v.scheduler} onChange={(e) => onChange({ scheduler: e.target.value })} {...invalid('scheduler')}>
            <option value="">Model default</option>
            {p.schedulers.map((s) => (
              <option key={s} value={s}>{samplerLabel(s)}</option>
            ))}
          </select>
        </Field>
        <Field id={kFieldIds.num_images} label="Number of images">
          <input id={kFieldIds.num_images} type="number" inputMode="numeric" min={1} max={8} value={v.numImages}
            onChange={(e) => onChange({ numImages: num(e.target.value, v.numImages) })} {...invalid('num_images')} />
        </Field>
      </div>

      <Field id={kFieldIds.seed} label="Seed">
        <div className="seed-row">
          <input id={kFieldIds.seed} type="text" inputMode="numeric" pattern="[0-9]*" placeholder="random" value={v.seed}
            onChange={(e) => onChange({ seed: e.target.value.replace(/[^0-9]/g, '') })} {...invalid('seed')} />
          <button type="button" onClick={() => onChange({ seed: '' })} disabled={v.seed === ''}>Random</button>
          <button type="button" onClick={() => p.lastSeed && onChange({ seed: p.lastSeed })} disabled={!p.lastSeed}
            title={p.lastSeed ? `Reuse ${p.lastSeed}` : 'No result yet'}>Reuse</button>
        </div>
      </Field>

      {p.mode !== 'txt2img' ? (
        <Field id={kFieldIds.strength} label="Strength" extra={<output htmlFor={kFieldIds.strength}>{v.strength.toFixed(2)}</output>}>
          <input id={kFieldIds.strength} type="range" min={0.05} max={1} step={0.05} value={v.strength}
            onChange={(e) => onChange({ strength: Number(e.target.value) })} {...invalid('strength')} />
        </Field>
      ) : null}

      {p.loras && p.loras.length > 0 ? (
        <fieldset className="group" id={kFieldIds.loras} {...invalid('loras')}>
          <legend>LoRAs</legend>
          {p.loras.map((l) => {
            const selected = l.path in v.loras;
            return (
              <div className="lora" key={l.path}>
                <label className="check">
                  <input type="checkbox" checked={selected}
                    onChange={(e) => {
                      const next = { ...v.loras };
                      if (e.target.checked) next[l.path] = 0.8;
                      else delete next[l.path];
                      onChange({ loras: next });
                    }} />
                  <span>{l.name}</span>
                </label>
                {selected ? (
                  <input type="number" aria-label={`Strength of ${l.name}`} step={0.05} min={-10} max={10} value={v.loras[l.path]}
                    onChange={(e) => onChange({ loras: { ...v.loras, [l.path]: num(e.target.value, 0.8) } })} />
                ) : null}
              </div>
            );
          })}
        </fieldset>
      ) : null}
    </div>
  );
}
