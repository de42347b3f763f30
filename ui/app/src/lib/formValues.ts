// The form's values and the request fields they become (shared by the three modes).
import type { LoraRequest, TextToImageParams } from 'sd-worker-sdk';

export interface FormValues {
  prompt: string;
  negativePrompt: string;
  width: number;
  height: number;
  steps: number;
  guidance: number;
  scheduler: string;  // "" = the model's own
  seed: string;       // "" = random
  numImages: number;
  strength: number;
  loras: Record<string, number>;  // selected LoRA path -> strength
}

export const defaultValues: FormValues = {
  prompt: '',
  negativePrompt: '',
  width: 512,
  height: 512,
  steps: 20,
  guidance: 7.5,
  scheduler: '',
  seed: '',
  numImages: 1,
  strength: 0.75,
  loras: {},
};

// Request field -> the id of the control that sets it (to point at the field an error names).
export const kFieldIds = {
  prompt: 'field-prompt',
  negative_prompt: 'field-negative-prompt',
  width: 'field-width',
  height: 'field-height',
  steps: 'field-steps',
  guidance_scale: 'field-guidance',
  scheduler: 'field-sampler',
  seed: 'field-seed',
  num_images: 'field-num-images',
  strength: 'field-strength',
  loras: 'field-loras',
} as const;

// A preview every ~8th of the run (at least every step for short runs).
export const previewEvery = (steps: number) => Math.max(1, Math.floor(steps / 8));

// The fields every mode sends. Numbers the person typed are sent as typed (the worker checks
// them and names the field when one is out of range); a seed is sent as a string (u64 digits).
export function commonFields(v: FormValues, withLoras: boolean): Omit<TextToImageParams, 'width' | 'height'> {
  const fields: Omit<TextToImageParams, 'width' | 'height'> = {
    prompt: v.prompt,
    steps: v.steps,
    guidance_scale: v.guidance,
    num_images: v.numImages,
    preview_every: previewEvery(v.steps),
  };
  if (v.negativePrompt.trim()) fields.negative_prompt = v.negativePrompt;
  if (v.scheduler) fields.scheduler = v.scheduler;
  if (v.seed.trim()) fields.seed = v.seed.trim();
  const loras: LoraRequest[] = Object.entries(v.loras).map(([path, strength]) => ({ path, strength }));
  if (withLoras && loras.length > 0) (fields as { loras?: LoraRequest[] }).loras = loras;
  return fields;
}
