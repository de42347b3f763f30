// The pipeline stages for SD3 models (family "sd3"), mirroring diffusers v0.30.3's
// StableDiffusion3Pipeline and StableDiffusion3Img2ImgPipeline __call__: the same stage functions
// as stages.h (which dispatch here on SdModel::is_sd3()), so the actors, the CLI and HTTP run SD3
// unchanged. PromptEmbeddings carry SD3's prompt_embeds in `context` and the pooled projections
// in `added.text_embeds`; DenoiseState's scheduler is the model's FlowMatchEulerDiscreteScheduler.
#pragma once

#include <ATen/ATen.h>

#include "model/pipeline/stages.h"

namespace sdw {

// Checks and completes what resolve_request cannot know about SD3, before its own checks: refuses
// inpainting, LoRAs, embeddings-only fields, other schedulers and SDXL fields; img2img's default
// strength is diffusers' 0.6; max_sequence_length 0 -> the model's default (256 unless loaded
// with another), at most 512; `t5: true` on a model loaded without T5. Throws RequestError.
void check_sd3_request(const SdModel& model, GenerationRequest& r);
// The SD3-only request fields (t5, max_sequence_length, scheduler flow_match_euler) given to a model
// of another family: RequestError naming the field, rather than ignoring it.
void refuse_sd3_fields(const SdModel& model, const GenerationRequest& r);

// encode_prompt: CLIP-L and CLIP-G penultimate hidden states (clip_skip k: hidden_states[-(k+1)],
// the prompt only) concatenated and zero-padded to T5's width, then T5's last hidden state (zeros
// [B, 77, joint_attention_dim] without T5) along the sequence: [B, 77 + max_sequence_length, D];
// pooled = cat(CLIP-L text_embeds, CLIP-G text_embeds). CFG batches [negative..., positive...].
PromptEmbeddings sd3_encode_prompt(SdModel& model, const ResolvedRequest& request);
// prepare_latents (one randn [N, 16, h, w], no init sigma) or, for img2img, the VAE posterior
// sample of the image ((sample - shift) * scale), one noise draw and scale_noise at t_start.
DenoiseState sd3_prepare_denoise(SdModel& model, const ResolvedRequest& request, PromptEmbeddings prompt,
                                 const PrepareOverrides& overrides);
// One transformer call (CFG as one batch) at the float timestep t (expanded to the batch), then
// the flow-matching Euler step.
void sd3_denoise_step(SdModel& model, DenoiseState& state);
// vae.decode(z / scaling_factor + shift_factor) -> [N, H, W, 3] in [0, 1].
at::Tensor sd3_decode_latents(SdModel& model, const at::Tensor& latents);

// StableDiffusion3Img2ImgPipeline.get_timesteps: init_timestep = min(N * strength, N) as a float,
// t_start = int(max(N - init_timestep, 0)).
int64_t sd3_img2img_start(int num_inference_steps, double strength);

}  // namespace sdw
