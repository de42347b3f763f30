// A refiner-shaped SDXL folder made from the tiny-sdxl fixture (the fixtures hold no refiner): its
// text_encoder_2, tokenizer_2, VAE and scheduler, and its UNet cut to a 64-wide cross-attention and
// a 5-value time embedding; model_index says StableDiffusionXLImg2ImgPipeline,
// requires_aesthetics_score, no text_encoder. Shared by the refiner's model and e2e tests.
#pragma once

#include <string>

#include "test_util.h"

namespace sdw::test {

// Writes the folder as `<tmp>/tiny-refiner` and returns its path.
std::string make_tiny_refiner(const TempDir& tmp);

}  // namespace sdw::test
