// Hires fix through `sd-worker serve` end to end on the tiny SD1.5 fixture: an rbee job with
// `hires` and an A1111 /sdapi/v1/txt2img request with enable_hr (hr_scale, hr_upscaler,
// hr_second_pass_steps, denoising_strength, hr_prompt) each give the PNG `sd-worker generate
// --hires-*` writes for the same settings (the composition itself is tested against txt2img and
// img2img in test_hires_fix); progress covers both passes; the infotext carries A1111's hires
// fields; what is refused answers 400 naming the field, in each API's error shape.
#include <catch.hpp>

#include <fstream>
#include <sstream>

#include "e2e/http_harness.h"
#include "file_bytes.h"
#include "model/image/image_io.h"
#include "test_util.h"

using namespace sdw;
using namespace sdw::test;
using nlohmann::json;

namespace {

const char* kPrompt = "a photo of an astronaut riding a horse on mars";
const char* kHiresPrompt = "a photo of an astronaut riding a horse on mars, detailed";

// `sd-worker generate` with the hires flags; returns the PNG's bytes.
std::string cli_png(const TempDir& tmp, const std::string& name, const std::string& upscaler,
                    std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {SDW_WORKER_BINARY, "generate", "--model", fixture("pipelines/tiny-sd15"), "--prompt",
                                   kPrompt, "--negative-prompt", "blurry", "--width", "32", "--height", "24", "--steps",
                                   "4", "--guidance", "7.5", "--seed", "42", "--scheduler", "euler_a", "--hires-scale",
                                   "2", "--hires-strength", "0.5", "--hires-steps", "3", "--hires-upscaler", upscaler,
                                   "--hires-prompt", kHiresPrompt, "--output", tmp.file(name)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const ProcessResult p = run_process(argv);
  INFO(p.output());
  REQUIRE(p.exit_code == 0);
  return file_bytes(tmp.file(name));
}

json hires_job(const std::string& model, const std::string& upscaler) {
  return {{"operation", "image_generation"},
          {"hive_id", "h"},
          {"model", model},
          {"prompt", kPrompt},
          {"negative_prompt", "blurry"},
          {"width", 32},
          {"height", 24},
          {"steps", 4},
          {"guidance_scale", 7.5},
          {"seed", 42},
          {"scheduler", "euler_a"},
          {"hires", {{"scale", 2}, {"strength", 0.5}, {"steps", 3}, {"upscaler", upscaler}, {"prompt", kHiresPrompt}}}};
}

std::string png_parameters(const std::string& png) {
  for (const auto& [key, value] : png_text_chunks(png))
    if (key == "parameters") return value;
  return "";
}

}  // namespace

TEST_CASE("serve runs hires fix jobs (rbee `hires`, A1111 enable_hr) with generate --hires-*'s PNG", "[e2e][hires]") {
  TempDir tmp;
  WorkerProcess w({"--model", fixture("pipelines/tiny-sd15"), "--min-side", "24", "--max-side", "128"});
  const HttpReply models = http_get(w.port(), "/v1/models");
  REQUIRE(models.status == 200);
  const std::string model = models.body["data"][0]["id"];

  for (const std::string upscaler : {"latent", "lanczos"}) {
    INFO("upscaler " << upscaler);
    const std::string expected = cli_png(tmp, "cli-" + upscaler + ".png", upscaler);
    const HttpReply accepted = post_json(w.port(), hires_job(model, upscaler));
    INFO(accepted.raw);
    REQUIRE(accepted.status == 200);
    const SseStream s = read_sse(w.port(), "/v1/jobs/" + accepted.body["job_id"].get<std::string>() + "/stream");
    REQUIRE(s.named("complete").size() == 1);
    const std::string served = decode_base64(s.named("complete")[0].json()["image"].get<std::string>());
    const Image got = decode_image(served);
    CHECK(got.width == 64);
    CHECK(got.height == 48);
    CHECK(got.pixels == decode_image(expected).pixels);
    CHECK(served == expected);  // pixels and the parameters chunk
    const std::string params = png_parameters(served);
    INFO(params);
    CHECK(params.find("Size: 32x24") != std::string::npos);
    CHECK(params.find("Denoising strength: 0.5") != std::string::npos);
    CHECK(params.find("Hires upscale: 2, Hires steps: 3, Hires upscaler: " +
                      std::string(upscaler == "latent" ? "Latent" : "Lanczos")) != std::string::npos);
    // Progress over both passes: Euler a, 4 steps, then int(3 / 0.5) = 6 img2img steps at 0.5 = 3.
    const auto progress = s.named("progress");
    REQUIRE(progress.size() == 7);
    for (size_t i = 0; i < progress.size(); ++i) {
      CHECK(progress[i].json()["step"] == static_cast<int>(i + 1));
      CHECK(progress[i].json()["total"] == 7);
    }
  }

  // A1111: enable_hr with its field names, the same image as generate with A1111's prompt syntax.
  const std::string expected = cli_png(tmp, "cli-a1111.png", "latent", {"--prompt-syntax", "a1111"});
  const json a1111 = {{"prompt", kPrompt},       {"negative_prompt", "blurry"}, {"seed", 42},
                      {"steps", 4},              {"width", 32},                 {"height", 24},
                      {"cfg_scale", 7.5},        {"sampler_name", "Euler a"},   {"enable_hr", true},
                      {"hr_scale", 2},           {"hr_upscaler", "Latent"},     {"hr_second_pass_steps", 3},
                      {"denoising_strength", 0.5}, {"hr_prompt", kHiresPrompt}};
  const HttpReply r = http_post(w.port(), "/sdapi/v1/txt2img", a1111.dump());
  INFO(r.raw.substr(0, 400));
  REQUIRE(r.status == 200);
  REQUIRE(r.body["images"].size() == 1);
  const std::string a1111_png = decode_base64(r.body["images"][0].get<std::string>());
  CHECK(decode_image(a1111_png).pixels == decode_image(expected).pixels);
  CHECK(a1111_png == expected);
  const json info = json::parse(r.body["info"].get<std::string>());
  CHECK(info["infotexts"][0].get<std::string>().find("Hires upscale: 2, Hires steps: 3, Hires upscaler: Latent") !=
        std::string::npos);

  // Refusals before any step.
  json bad = hires_job(model, "latent");
  bad["hires"]["scale"] = 5;
  HttpReply e = post_json(w.port(), bad);
  CHECK(e.status == 400);
  CHECK(e.body["error"]["param"] == "hires.scale");
  bad = hires_job(model, "ESRGAN_4x");
  e = post_json(w.port(), bad);
  CHECK(e.status == 400);
  CHECK(e.body["error"]["param"] == "hires.upscaler");
  bad = hires_job(model, "latent");
  bad["hires"]["scale"] = 4;  // 128x96: within --max-side 128; 3x32 = 96 fine
  bad["width"] = 48;          // 192 wide: over --max-side
  e = post_json(w.port(), bad);
  CHECK(e.status == 400);
  CHECK(e.raw.find("128") != std::string::npos);
  bad = hires_job(model, "latent");
  bad["hires"]["scale"] = 1.1;  // 35x26: not multiples of 8
  e = post_json(w.port(), bad);
  CHECK(e.status == 400);
  CHECK(e.raw.find("multiple of 8") != std::string::npos);
  json a = a1111;
  a["hr_upscaler"] = "R-ESRGAN 4x+";
  e = http_post(w.port(), "/sdapi/v1/txt2img", a.dump());
  CHECK(e.status == 400);
  CHECK(e.raw.find("hr_upscaler") != std::string::npos);
  a = a1111;
  a["hr_scale"] = 1;
  e = http_post(w.port(), "/sdapi/v1/txt2img", a.dump());
  CHECK(e.status == 400);
  CHECK(e.raw.find("hr_scale") != std::string::npos);
  CHECK(http_get(w.port(), "/health").status == 200);
}
