// Display names of the samplers: the worker's canonical names and the diffusers class names its
// results report, as A1111 users know them.
const kNames: Record<string, string> = {
  ddim: 'DDIM',
  pndm: 'PLMS (PNDM)',
  ddpm: 'DDPM',
  euler: 'Euler',
  euler_a: 'Euler a',
  dpmpp_2m: 'DPM++ 2M',
  dpmpp_2m_karras: 'DPM++ 2M Karras',
  heun: 'Heun',
  lcm: 'LCM',
  unipc: 'UniPC',
  DDIMScheduler: 'DDIM',
  PNDMScheduler: 'PLMS (PNDM)',
  DDPMScheduler: 'DDPM',
  EulerDiscreteScheduler: 'Euler',
  EulerAncestralDiscreteScheduler: 'Euler a',
  DPMSolverMultistepScheduler: 'DPM++ 2M',
  HeunDiscreteScheduler: 'Heun',
  LCMScheduler: 'LCM',
  UniPCMultistepScheduler: 'UniPC',
};

export const samplerLabel = (name: string) => kNames[name] ?? name;
