// The memory options through the real binary (docs/memory.md): the rbee job field `vae_tiling`
// with serve's --vae-tile-size / --vae-tile-overlap gives diffusers' enable_vae_tiling PNG
// (tests/fixtures/vae_extras, README N.6; max pixel difference <= 1), and its absence the plain
// decode; a bad value is a 400 naming the field; `generate --final-decoder taesd --taesd DIR`
// gives diffusers' AutoencoderTiny PNG; serve --preview-decoder taesd sends full-size previews.
#include <catch.hpp>

#include "e2e/http_harness.h"
#include "model/image/image_io.h"
#include "seeded_cases.h"

using namespace sdw;
using namespace sdw::test;
using nlohmann::json;

namespace {

json vae_case(const std::string& id) {
  const json cases = read_json(fixture("vae_extras/cases.json"));
  for (const auto& c : cases["cases"])
    if (c["id"] == id) return c;
  FAIL("no case " << id);
  return {};
}

Image expected_png(const json& c) { return load_image(fixture("vae_extras/" + c["expected"][0]["png"].get<std::string>())); }

json job_for(const json& c, int port) {
  json job = {{"operation", "image_generation"}, {"hive_id", "h"},     {"model", http_get(port, "/v1/models").body["data"][0]["id"]},
              {"prompt", c["prompt"]},           {"steps", c["steps"]}, {"guidance_scale", c["guidance"]},
              {"seed", c["seed"]},               {"width", c["width"]}, {"height", c["height"]}};
  if (!c["negative_prompt"].is_null()) job["negative_prompt"] = c["negative_prompt"];
  if (!c["scheduler"].is_null()) job["scheduler"] = c["scheduler"];
  return job;
}

SseStream run_stream(int port, const json& job) {
  const HttpReply r = post_json(port, job);
  INFO(r.raw);
  REQUIRE(r.status == 200);
  SseStream s = read_sse(port, "/v1/jobs/" + r.body["job_id"].get<std::string>() + "/stream");
  INFO(s.raw.substr(0, 2000));
  REQUIRE(s.named("complete").size() == 1);
  return s;
}

Image complete_image(const SseStream& s) {
  return decode_image_base64(s.named("complete")[0].json()["image"].get<std::string>());
}

}  // namespace

TEST_CASE("the vae_tiling job field gives diffusers' tiled-VAE image", "[e2e][tiling]") {
  WorkerProcess w({"--model", fixture("pipelines/tiny-sd15"), "--min-side", "32", "--vae-tile-size", "16",
                   "--vae-tile-overlap", "0.25"});
  const json c = vae_case("vae_tiled_sd15_txt2img");
  json job = job_for(c, w.port());
  job["vae_tiling"] = true;
  CHECK(max_pixel_diff(complete_image(run_stream(w.port(), job)), expected_png(c)) <= 1);
  // Without the field (and a decode that fits in memory) the plain decode: another image.
  job.erase("vae_tiling");
  CHECK(max_pixel_diff(complete_image(run_stream(w.port(), job)), expected_png(c)) > 1);
  job["vae_tiling"] = "yes";
  const HttpReply bad = post_json(w.port(), job);
  CHECK(bad.status == 400);
  CHECK(bad.raw.find("vae_tiling") != std::string::npos);
}

TEST_CASE("generate --final-decoder taesd gives diffusers' AutoencoderTiny image", "[e2e][taesd]") {
  TempDir tmp;
  const json c = vae_case("taesd_sd15_txt2img");
  const ProcessResult p = run_process(
      {SDW_WORKER_BINARY, "generate", "--model", fixture("pipelines/tiny-sd15"), "--prompt", c["prompt"],
       "--negative-prompt", c["negative_prompt"], "--width", std::to_string(c["width"].get<int>()), "--height",
       std::to_string(c["height"].get<int>()), "--steps", std::to_string(c["steps"].get<int>()), "--guidance",
       std::to_string(c["guidance"].get<double>()), "--seed", std::to_string(c["seed"].get<uint64_t>()),
       "--final-decoder", "taesd", "--taesd", fixture("vae_extras/tiny-taesd-sd15"), "--output", tmp.file("t.png")});
  INFO(p.output());
  REQUIRE(p.exit_code == 0);
  CHECK(max_pixel_diff(load_image(tmp.file("t.png")), expected_png(c)) <= 1);
  // TAESD named without a folder, and a bad slicing word, are refused before loading.
  CHECK(run_process({SDW_WORKER_BINARY, "generate", "--model", "demo", "--prompt", "x", "--final-decoder", "taesd",
                     "--output", tmp.file("u.png")}).exit_code != 0);
  CHECK(run_process({SDW_WORKER_BINARY, "generate", "--model", "demo", "--prompt", "x", "--attention-slicing", "half",
                     "--output", tmp.file("v.png")}).exit_code != 0);
}

TEST_CASE("serve --preview-decoder taesd sends full-size TAESD previews", "[e2e][taesd]") {
  WorkerProcess w({"--model", fixture("pipelines/tiny-sd15"), "--min-side", "32", "--taesd",
                   fixture("vae_extras/tiny-taesd-sd15"), "--preview-decoder", "taesd", "--attention-slicing", "auto"});
  const json c = vae_case("vae_tiled_sd15_txt2img");  // 48x32: tiny-sd15's own VAE decodes the final image
  json job = job_for(c, w.port());
  job["preview_every"] = 1;
  const SseStream s = run_stream(w.port(), job);
  const auto previews = s.named("preview");
  REQUIRE(!previews.empty());
  const json p = previews[0].json();
  CHECK(p["width"] == 48 * 4);  // TAESD: 8 px per latent (tiny-sd15's 24x16 latents); the linear preview: 24
  CHECK(p["height"] == 32 * 4);
  CHECK(complete_image(s).width == 48);  // the final image is still the VAE's
}

TEST_CASE("a job that would not fit the memory budget is refused with the error shape, and the worker serves on",
          "[e2e][memory]") {
  // tiny-sd15 loads within 300 MiB (its estimate at the default size is about 150 MiB); a
  // 1024x1024 job of 4 images would hold about 5 GiB in the UNet alone (its VAE scales by 2).
  WorkerProcess w({"--model", fixture("pipelines/tiny-sd15"), "--min-side", "32", "--vae-tile-size", "16",
                   "--vae-tile-overlap", "0.25", "--memory-limit-mb", "300"});
  const json c = vae_case("vae_tiled_sd15_txt2img");
  json job = job_for(c, w.port());
  json big = job;
  big["width"] = big["height"] = 1024;
  big["num_images"] = 4;
  const HttpReply r = post_json(w.port(), big);
  INFO(r.raw.substr(0, 600));
  CHECK(r.status == 503);
  REQUIRE(r.body.is_object());
  CHECK(r.body["error"]["code"] == "OUT_OF_MEMORY");
  CHECK(r.body["error"]["request_id"] == r.header("X-Request-Id"));
  const std::string message = r.body["error"]["message"].get<std::string>();
  CHECK_THAT(message, Catch::Contains("1024x1024, 4 image(s)") && Catch::Contains("needs about") &&
                          Catch::Contains("smaller size"));
  // The same worker still runs jobs that fit: diffusers' tiled image with vae_tiling, another without.
  CHECK(max_pixel_diff(complete_image(run_stream(w.port(), job)), expected_png(c)) > 1);
  job["vae_tiling"] = true;
  CHECK(max_pixel_diff(complete_image(run_stream(w.port(), job)), expected_png(c)) <= 1);
}
