// A job's memory estimate (model/pipeline/job_memory.h) against the measured peak growth of running
// that job on tiny-sd15 (fp32): it must cover the peak, by no more than kMaxOver; and it follows the
// routes that change what a job holds (attention, VAE tiling, batch).
#include <catch.hpp>

#include "model/nn/attention.h"
#include "model/nn/cpu_allocator.h"
#include "model/nn/cpu_attention.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/job_memory.h"
#include "model/pipeline/sd_model.h"
#include "test_util.h"

using namespace sdw;

namespace {

constexpr double kMaxOver = 4.0;

GenerationRequest job(int side, int images) {
  GenerationRequest req;
  req.prompt = "a cat";
  req.negative_prompt = "blurry";
  req.width = req.height = side;
  req.num_images = images;
  req.steps = 2;
  req.seed = 3;
  return req;
}

// The job's peak RSS growth over the RSS before it (after a first run of the same job, so what the
// libraries set up once per process is not counted).
int64_t measured_growth(SdModel& model, const GenerationRequest& req) {
  REQUIRE(generate(model, req).images.size() == static_cast<size_t>(req.num_images));
  nn::release_free_cpu_memory();
  const int64_t before = test::status_bytes("VmRSS");
  REQUIRE(test::reset_peak_rss());
  REQUIRE(generate(model, req).images.size() == static_cast<size_t>(req.num_images));
  return test::status_bytes("VmHWM") - before;
}

}  // namespace

TEST_CASE("a job's memory estimate covers its measured peak", "[pipeline][memory]") {
  nn::configure_cpu_allocator();  // as sd-worker's main does
  auto model = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  // tiny-sd15's VAE scales by 2: at 128x128 the UNet attends over 64x64 = 4096 tokens, and the
  // UNet step (batch 2 or 4 with CFG) outweighs the decode.
  for (int images : {1, 2}) {
    const GenerationRequest req = job(128, images);
    const ResolvedRequest r = resolve_request(*model, req);
    const JobMemory e = estimate_job_memory(*model, r, -1);
    const int64_t growth = measured_growth(*model, req);
    INFO(images << " image(s): peak growth " << growth / (1 << 20) << " MiB, estimate " << e.describe());
    CHECK(growth > 0);
    CHECK(e.total() >= growth);
    CHECK(static_cast<double>(e.total()) <= kMaxOver * static_cast<double>(growth));
  }
}

TEST_CASE("a job's memory estimate follows its batch, the attention route and VAE tiling", "[pipeline][memory]") {
  auto model = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  const ResolvedRequest one = resolve_request(*model, job(256, 1));
  const ResolvedRequest four = resolve_request(*model, job(256, 4));
  const JobMemory e1 = estimate_job_memory(*model, one, -1), e4 = estimate_job_memory(*model, four, -1);
  CHECK(e4.denoiser_bytes > 3 * e1.denoiser_bytes);  // 4x the tensors, the same fixed scratch
  CHECK(e4.vae_bytes > 3 * e1.vae_bytes);

  // The blocked CPU attention keeps a block of scores per thread; one head at a time keeps that
  // head's [L, L] scores and probabilities (16384^2 x 4 bytes x 2 = 2 GiB here).
  const bool blocked = nn::cpu_blocked_attention_enabled();
  nn::set_cpu_blocked_attention(false);
  const int64_t per_head = nn::attention_work_bytes(at::kCPU, at::kFloat, 4, 8, 16384, 16384, 4, false, 0);
  const JobMemory unblocked = estimate_job_memory(*model, one, -1);
  nn::set_cpu_blocked_attention(true);
  const int64_t in_blocks = nn::attention_work_bytes(at::kCPU, at::kFloat, 4, 8, 16384, 16384, 4, false, 0);
  nn::set_cpu_blocked_attention(blocked);
  if (nn::cpu_onednn_enabled()) CHECK(per_head == 2 * int64_t{16384} * 16384 * 4);
  if (nn::cpu_blocked_attention_enabled()) {
    CHECK(in_blocks < (int64_t{64} << 20));
    CHECK(unblocked.denoiser_bytes > e1.denoiser_bytes);
  }
  // The generic route (bf16 activations here): every (batch, head) pair's scores, or a slice's.
  CHECK(nn::attention_work_bytes(at::kCPU, at::kBFloat16, 4, 8, 1024, 1024, 4, false, 0) == 2 * 32 * 1024 * 1024 * 2);
  CHECK(nn::attention_work_bytes(at::kCPU, at::kBFloat16, 4, 8, 1024, 1024, 4, false, 2) == 2 * 2 * 1024 * 1024 * 2);

  // A large decode: plain unless tiling is asked for, or the plain pass exceeds the budget.
  GenerationRequest big = job(1024, 1);
  const JobMemory plain = estimate_job_memory(*model, resolve_request(*model, big), -1);
  CHECK_FALSE(plain.vae_tiled);
  const JobMemory squeezed = estimate_job_memory(*model, resolve_request(*model, big), plain.vae_bytes / 2);
  CHECK(squeezed.vae_tiled);
  CHECK(squeezed.vae_bytes < plain.vae_bytes);
  big.vae_tiling = false;  // the job refuses tiling: the plain pass counts whatever the budget
  CHECK_FALSE(estimate_job_memory(*model, resolve_request(*model, big), plain.vae_bytes / 2).vae_tiled);
  big.vae_tiling = true;
  CHECK(estimate_job_memory(*model, resolve_request(*model, big), -1).vae_tiled);
}
