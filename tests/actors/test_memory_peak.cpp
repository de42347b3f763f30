// The load-time memory estimate (actors/memory_estimate.h) against the measured peak RSS of loading
// tiny-sd15 from its safetensors files and generating one image at its default size, fp32 (packed
// CPU weights) and fp16-stored (fp16 -> fp32 per-layer temporaries): the estimate must cover the
// peak, by no more than kMaxOver, and its weights plus fast-path part alone must stay under the peak
// (the rest is activations: on this fixture the estimate's UNet attention scores, 2 x 2 x 8 x
// 1024^2 x 4 bytes = 128 MiB, are its largest term, where the run measured about 25 MiB).
#include <catch.hpp>

#include <string>

#include "actors/memory_estimate.h"
#include "model/nn/cpu_allocator.h"
#include "model/nn/layers.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/sd_model.h"
#include "test_util.h"

using namespace sdw;
using namespace sdw::actors;

namespace {

// The estimate is at most 6x the measured growth. Measured: 4.1x fp32 and 4.4x fp16-stored on
// AVX-512 hosts (fp16 growth 34.0 MiB), 5.4x fp16-stored on a 2-vCPU AMD EPYC with AVX2 only
// (growth 27.9 MiB against the same 149.6 MiB estimate; why that host grows less was not examined).
constexpr double kMaxOver = 6.0;

int64_t load_and_generate(const std::string& folder, at::ScalarType dtype) {
  ModelLoadOptions o;
  o.dtype = dtype;
  auto model = load_diffusers_model(folder, o);
  GenerationRequest req;
  req.prompt = "a cat";
  req.negative_prompt = "blurry";
  req.width = model->default_width;  // the size the estimate's activations are for
  req.height = model->default_height;
  req.steps = 2;
  req.seed = 3;
  GenerationResult r = generate(*model, req);
  return static_cast<int64_t>(r.images.size());
}

}  // namespace

TEST_CASE("the load-time memory estimate covers the measured peak of loading and generating, fast paths included",
          "[actors][memory]") {
  nn::configure_cpu_allocator();  // as sd-worker's main does
  const std::string folder = test::fixture("pipelines/tiny-sd15");
  for (at::ScalarType dtype : {at::kFloat, at::kHalf}) {
    MemoryEstimate e = estimate_folder(folder, dtype);
    add_cpu_prepack(e, at::kCPU, dtype);
    // One run first: what the libraries set up once per process (oneDNN kernels, BLAS buffers,
    // thread pools) is not the model's and is not in the estimate.
    REQUIRE(load_and_generate(folder, dtype) == 1);
    nn::release_free_cpu_memory();
    const int64_t before = test::status_bytes("VmRSS");
    REQUIRE(test::reset_peak_rss());
    REQUIRE(load_and_generate(folder, dtype) == 1);
    const int64_t growth = test::status_bytes("VmHWM") - before;
    INFO(c10::toString(dtype) << ": peak growth " << format_bytes(growth) << ", estimate " << e.describe());
    CHECK(growth > 0);
    CHECK(e.total() >= growth);
    CHECK(static_cast<double>(e.total()) <= kMaxOver * static_cast<double>(growth));
    CHECK(e.weight_bytes + e.prepack_bytes <= growth);
    if (dtype == at::kFloat && nn::cpu_onednn_enabled() && nn::cpu_prepack_enabled()) CHECK(e.prepack_bytes > 0);
    if (dtype == at::kHalf) CHECK(e.prepack_bytes > 0);  // the per-layer fp32 copies
  }
}
