// SDXL base + refiner through `sd-worker serve --refiner` end to end: the real binary serving
// tiny-sdxl with a refiner-shaped folder made from it (tests/tiny_refiner.h: text_encoder_2 only,
// aesthetic time ids), GET /v1/models listing both with their roles, and a job with `refiner` /
// `refiner_start` whose PNG is byte for byte the one `sd-worker generate --refiner
// --refiner-start` writes for the same settings (the CLI runs generate_with_refiner, whose
// hand-off is tested against diffusers' arithmetic in test_sdxl_refiner); progress counts both
// models' steps. The refusals: a name that is not the served refiner, a worker without
// --refiner, a non-SDXL base, inpainting, refiner_start outside (0, 1) — each a 400 before any step.
#include <catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "e2e/http_harness.h"
#include "file_bytes.h"
#include "model/image/image_io.h"
#include "seeded_cases.h"
#include "test_util.h"
#include "tiny_refiner.h"

using namespace sdw;
using namespace sdw::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json refiner_job(const std::string& model, const std::string& refiner) {
  return {{"operation", "image_generation"},
          {"hive_id", "h"},
          {"model", model},
          {"prompt", "a photo of an astronaut riding a horse on mars"},
          {"negative_prompt", "lowres, bad anatomy, blurry"},
          {"width", 48},
          {"height", 32},
          {"steps", 10},
          {"guidance_scale", 7.5},
          {"seed", 11},
          {"refiner", refiner},
          {"refiner_start", 0.7}};
}

std::string error_code(const HttpReply& r) { return r.body.is_object() ? r.body["error"]["code"].get<std::string>() : ""; }

}  // namespace

TEST_CASE("serve --refiner runs base + refiner jobs with generate --refiner's PNG", "[e2e][sdxl][refiner]") {
  TempDir tmp;
  const std::string refiner = make_tiny_refiner(tmp);
  const std::string base = fixture("pipelines/tiny-sdxl");

  // The CLI's image for the same settings.
  const std::string cli_png = tmp.file("cli.png");
  const ProcessResult cli =
      run_process({SDW_WORKER_BINARY, "generate", "--model", base, "--refiner", refiner, "--refiner-start", "0.7",
                   "--prompt", "a photo of an astronaut riding a horse on mars", "--negative-prompt",
                   "lowres, bad anatomy, blurry", "--width", "48", "--height", "32", "--steps", "10", "--guidance", "7.5",
                   "--seed", "11", "--output", cli_png});
  INFO(cli.output());
  REQUIRE(cli.exit_code == 0);
  const std::string expected = file_bytes(cli_png);
  REQUIRE(!expected.empty());

  WorkerProcess w({"--model", base, "--refiner", refiner, "--min-side", "32"});
  const HttpReply models = http_get(w.port(), "/v1/models");
  REQUIRE(models.status == 200);
  REQUIRE(models.body["data"].size() == 2);
  CHECK(models.body["data"][0]["role"] == "base");
  CHECK(models.body["data"][1]["role"] == "refiner");
  CHECK(models.body["data"][1]["id"] == refiner);
  CHECK(models.body["data"][1]["family"] == "sdxl");
  CHECK(models.body["data"][1]["aliases"] == json::array({"tiny-refiner"}));
  CHECK(models.body["data"][1]["memory"]["weight_bytes"].get<int64_t>() > 0);
  const std::string model = models.body["data"][0]["id"];

  // The job, by the refiner's folder name.
  const HttpReply accepted = post_json(w.port(), refiner_job(model, "tiny-refiner"));
  INFO(accepted.raw);
  REQUIRE(accepted.status == 200);
  const SseStream s = read_sse(w.port(), "/v1/jobs/" + accepted.body["job_id"].get<std::string>() + "/stream");
  REQUIRE(s.named("complete").size() == 1);
  const std::string served = decode_base64(s.named("complete")[0].json()["image"].get<std::string>());
  const Image got = decode_image(served), want = decode_image(expected);
  std::cout << "refiner job vs generate --refiner: max pixel diff " << max_pixel_diff(got, want) << ", "
            << (served == expected ? "same PNG bytes" : "PNG bytes differ") << "\n";
  CHECK(max_pixel_diff(got, want) == 0);
  CHECK(served == expected);  // pixels and the parameters chunk
  // Progress over both models: 10 steps (base to 0.7 = 7 steps, the refiner 3), monotone.
  const auto progress = s.named("progress");
  REQUIRE(progress.size() == 10);
  for (size_t i = 0; i < progress.size(); ++i) {
    CHECK(progress[i].json()["step"] == static_cast<int>(i + 1));
    CHECK(progress[i].json()["total"] == 10);
  }
  // The refiner matters: the base alone gives another image.
  json plain = refiner_job(model, "x");
  plain.erase("refiner");
  plain.erase("refiner_start");
  const HttpReply p = post_json(w.port(), plain);
  REQUIRE(p.status == 200);
  const SseStream ps = read_sse(w.port(), "/v1/jobs/" + p.body["job_id"].get<std::string>() + "/stream");
  REQUIRE(ps.named("complete").size() == 1);
  CHECK(decode_image_base64(ps.named("complete")[0].json()["image"].get<std::string>()).pixels != got.pixels);

  // Refusals, each a 400 at submission.
  HttpReply r = post_json(w.port(), refiner_job(model, "not-served"));
  CHECK(r.status == 400);
  CHECK(error_code(r) == "MODEL_NOT_FOUND");
  CHECK(r.raw.find("not-served") != std::string::npos);
  json bad_start = refiner_job(model, "tiny-refiner");
  bad_start["refiner_start"] = 1.0;
  r = post_json(w.port(), bad_start);
  CHECK(r.status == 400);
  CHECK(r.raw.find("refiner_start") != std::string::npos);
  json no_refiner = plain;
  no_refiner["refiner_start"] = 0.5;
  r = post_json(w.port(), no_refiner);
  CHECK(r.status == 400);
  CHECK(r.raw.find("refiner_start needs a refiner") != std::string::npos);
  json inpaint = refiner_job(model, "tiny-refiner");
  inpaint["operation"] = "image_inpaint";
  inpaint["init_image"] = encode_base64(file_bytes(fixture("sdxl_modes/init_64x64.png")));
  inpaint["mask_image"] = encode_base64(file_bytes(fixture("sdxl_modes/mask_64x64.png")));
  r = post_json(w.port(), inpaint);
  CHECK(r.status == 400);
  CHECK(r.raw.find("inpainting") != std::string::npos);
  CHECK(http_get(w.port(), "/health").status == 200);
}

TEST_CASE("refiner jobs are refused by a worker without --refiner and for a non-SDXL base", "[e2e][refiner]") {
  TempDir tmp;
  const std::string refiner = make_tiny_refiner(tmp);
  {
    WorkerProcess w({"--model", fixture("pipelines/tiny-sdxl"), "--min-side", "32"});
    const HttpReply models = http_get(w.port(), "/v1/models");
    REQUIRE(models.body["data"].size() == 1);
    const HttpReply r = post_json(w.port(), refiner_job(models.body["data"][0]["id"], "tiny-refiner"));
    CHECK(r.status == 400);
    CHECK(error_code(r) == "INVALID_REQUEST");
    CHECK(r.raw.find("serves no refiner") != std::string::npos);
  }
  {
    WorkerProcess w({"--model", fixture("pipelines/tiny-sd15"), "--refiner", refiner, "--min-side", "32"});
    const HttpReply models = http_get(w.port(), "/v1/models");
    REQUIRE(models.body["data"].size() == 2);
    const HttpReply r = post_json(w.port(), refiner_job(models.body["data"][0]["id"], "tiny-refiner"));
    CHECK(r.status == 400);
    CHECK(error_code(r) == "INVALID_REQUEST");
    CHECK(r.raw.find("SDXL") != std::string::npos);
  }
}
