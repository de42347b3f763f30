// CPU offload (model/pipeline/offload.h) through the real pipeline on the tiny SD1.5 fixture.
// This machine has no GPU, so the compute device is the CPU and no bytes move: what is checked is
// the orchestration (which part is brought to the device before each stage, in which order, and
// that a part already there is not brought again), that the model loads through the offload path
// with its settings (weights' device, no CUDA graphs, no fused QKV) and that images are unchanged.
// The copies themselves need a GPU. The estimate's arithmetic: tests/actors/test_offload_estimate.cpp.
#include <catch.hpp>

#include "model/pipeline/generate.h"
#include "model/pipeline/offload.h"
#include "test_util.h"

using namespace sdw;

namespace {

std::shared_ptr<SdModel> tiny(OffloadMode mode) {
  ModelLoadOptions options;
  options.memory.offload = mode;
  options.fuse_qkv = true;  // asked for, and turned off by offload
  return load_offloaded(options, [](const ModelLoadOptions& o) {
    return load_diffusers_model(test::fixture("pipelines/tiny-sd15"), o);
  });
}

GenerationRequest request() {
  GenerationRequest r;
  r.prompt = "a red cube";
  r.width = r.height = 32;
  r.steps = 3;
  r.guidance = 7.5;
  r.seed = 7;
  return r;
}

// The parts brought to the device so far, by name.
std::vector<std::string> arrivals(const SdModel& m) {
  std::vector<std::string> out;
  for (ModelPart p : m.offload->stats().arrivals) out.push_back(model_part_name(p));
  return out;
}

using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("offload words parse and the CPU path refuses nothing it should not", "[offload]") {
  CHECK(parse_offload_mode("none") == OffloadMode::none);
  CHECK(parse_offload_mode("model") == OffloadMode::model);
  CHECK(parse_offload_mode("sequential") == OffloadMode::sequential);
  CHECK_THROWS_AS(parse_offload_mode("gpu"), std::invalid_argument);
  CHECK(std::string(offload_mode_name(OffloadMode::sequential)) == "sequential");
  ModelLoadOptions o;
  o.memory.offload = OffloadMode::model;
  o.fuse_qkv = true;
  const ModelLoadOptions w = weights_load_options(o);
  CHECK(w.device.is_cpu());
  CHECK(w.fuse_qkv == std::optional<bool>(false));
  CHECK(weights_load_options(ModelLoadOptions{}).fuse_qkv == std::nullopt);  // no offload: untouched
}

TEST_CASE("model offload brings each part to the device before its stage, and images are unchanged", "[offload]") {
  auto plain = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  auto off = tiny(OffloadMode::model);
  REQUIRE(off->offload);
  CHECK(off->offload->mode() == OffloadMode::model);
  CHECK_FALSE(off->cuda_graphs);
  CHECK_FALSE(off->fuse_qkv);
  CHECK(weights_device(*off).is_cpu());

  const GenerationResult a = generate(*plain, request());
  const GenerationResult b = generate(*off, request());
  REQUIRE(b.images.size() == 1);
  CHECK(a.images[0].pixels == b.images[0].pixels);
  // txt2img: the text encoder, then the UNet for all three steps (once), then the VAE.
  CHECK(arrivals(*off) == Names{"text_encoders", "denoiser", "vae"});

  // img2img: the VAE encodes the init image between the prompt and the first step.
  GenerationRequest r = request();
  r.mode = GenerationMode::img2img;
  r.init_image = a.images[0];
  r.strength = 0.6;
  const GenerationResult c = generate(*plain, r);
  const GenerationResult d = generate(*off, r);
  CHECK(c.images[0].pixels == d.images[0].pixels);
  CHECK(arrivals(*off) == Names{"text_encoders", "denoiser", "vae", "text_encoders", "vae", "denoiser", "vae"});
  // On a CPU compute device nothing is copied.
  CHECK(off->offload->stats().bytes_to_device == 0);
  CHECK(off->offload->stats().bytes_to_host == 0);
}

TEST_CASE("sequential offload leaves the parts where they are and gives the same image", "[offload]") {
  auto plain = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  auto seq = tiny(OffloadMode::sequential);
  CHECK(generate(*plain, request()).images[0].pixels == generate(*seq, request()).images[0].pixels);
  CHECK(arrivals(*seq).empty());  // the layers stream their own weights (nn/weight_stream.h)
}
