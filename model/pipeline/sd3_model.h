// Stable Diffusion 3 as an SdModel of family "sd3" (diffusers' StableDiffusion3Pipeline folders):
// `text_encoder` / `text_encoder_2` hold CLIP-L and CLIP-G (both CLIPTextModelWithProjection),
// `vae` the 16-channel AutoencoderKL with shift_factor, `scheduler_config` the
// FlowMatchEulerDiscreteScheduler; the parts a UNet model lacks live in Sd3Components (the T5
// tokenizer and encoder, the MMDiT), and `unet` stays empty. The stages dispatch on is_sd3().
#pragma once

#include <memory>
#include <string>

#include "model/loading/diffusers_folder.h"
#include "model/nets/sd3_transformer_2d.h"
#include "model/nets/t5_encoder.h"
#include "model/pipeline/sd_model.h"
#include "model/tokenizer/t5_tokenizer.h"

namespace sdw {

struct Sd3Components {
  // text_encoder_3 and tokenizer_3: absent when the folder has none or the model was loaded
  // without T5 (ModelLoadOptions::load_t5); the T5 part of the prompt is then zeros.
  std::shared_ptr<T5Tokenizer> tokenizer_3;
  T5EncoderModel text_encoder_3{nullptr};
  SD3Transformer2DModel transformer{nullptr};
  int tokenizer_max_length = 77;  // the CLIP tokenizers' length: the no-T5 zeros are this long
  // Requests' max_sequence_length when they give none (ModelLoadOptions::max_sequence_length).
  int default_max_sequence_length = T5Tokenizer::kDefaultMaxLength;
  bool t5_left_out = false;        // the folder has T5 but the model was loaded without it
  at::Device t5_device = at::kCPU;  // where text_encoder_3 lives (the model's device unless moved)

  bool has_t5() const { return !text_encoder_3.is_empty(); }
  int64_t weight_bytes() const;  // T5 + transformer
};

// True for model_index.json classes of SD3 (StableDiffusion3Pipeline, ...Img2ImgPipeline).
bool is_sd3_pipeline_class(const std::string& pipeline_class);

// Loads an SD3 diffusers folder: CLIP-L, CLIP-G, T5 (unless options.load_t5 is false or the
// folder has no text_encoder_3), the transformer, the VAE and the scheduler config; defaults from
// the catalog's sd3-medium entry (size from the transformer's sample_size). T5 goes to
// options.t5_device when set (fp16 becomes bf16 there when that device is the CPU). Throws LoadError.
std::shared_ptr<SdModel> load_sd3_model(const DiffusersFolder& folder, const ModelLoadOptions& options);

}  // namespace sdw
