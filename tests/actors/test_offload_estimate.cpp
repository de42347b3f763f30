// The memory estimate under CPU offload (actors/memory_estimate.h, model/pipeline/offload.h): the
// device holds the largest part (model) or the largest layer (sequential), the rest is host memory;
// a diffusers folder's weights split into the parts offload moves.
#include <catch.hpp>

#include "actors/memory_estimate.h"
#include "model/pipeline/sd_model.h"
#include "test_util.h"

using namespace sdw;

TEST_CASE("under offload the device holds the largest part or the largest layer", "[offload]") {
  actors::MemoryEstimate e;
  e.add_part(ModelPart::text_encoders, 250);
  e.add_part(ModelPart::denoiser, 1700);
  e.add_part(ModelPart::vae, 160);
  e.add_prepackable({1280, 1280, 3, 3}, 60, false);  // the largest layer
  e.activation_bytes = 400;
  CHECK(e.weight_bytes == 2110);
  CHECK(e.total() == 2110 + 400);
  e.offload = OffloadMode::model;
  CHECK(e.device_weight_bytes() == 1700);
  CHECK(e.total() == 1700 + 400);
  CHECK(e.describe().find("in host memory (--offload model)") != std::string::npos);
  e.offload = OffloadMode::sequential;
  CHECK(e.device_weight_bytes() == 60);
  // Parts unknown (a catalog estimate): all of the weights count.
  actors::MemoryEstimate unknown;
  unknown.weight_bytes = 900;
  unknown.offload = OffloadMode::model;
  CHECK(unknown.device_weight_bytes() == 900);
}

TEST_CASE("a folder's estimate splits its weights into the parts offload moves", "[offload]") {
  const actors::MemoryEstimate e = actors::estimate_folder(test::fixture("pipelines/tiny-sd15"), at::kFloat);
  auto m = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  auto bytes = [](const torch::nn::Module& module) {
    int64_t total = 0;
    for (const auto& p : module.parameters()) total += p.numel() * p.element_size();
    return total;
  };
  CHECK(e.text_bytes == bytes(*m->text_encoder));
  CHECK(e.denoiser_bytes == bytes(*m->unet));
  CHECK(e.vae_bytes == bytes(*m->vae));
  CHECK(e.text_bytes + e.denoiser_bytes + e.vae_bytes == e.weight_bytes);
}
