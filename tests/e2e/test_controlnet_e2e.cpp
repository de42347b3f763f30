// ControlNet through the real binary: `generate --controlnet DIR --control-image PNG` and a served
// job's `controlnets` field (serve --controlnet DIR) both give diffusers' cn_default image (max
// pixel difference <= 1 from tests/fixtures/controlnet/cn_default.png) with the ControlNet unit in
// the PNG's parameters chunk; a canny job runs and records its module; GET /v1/controlnets lists
// the served nets; bad fields, an unknown net and a net of another family are 400s before any step
// (the worker stays healthy).
#include <catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "e2e/http_harness.h"
#include "image_test_util.h"
#include "model/image/image_io.h"
#include "seeded_cases.h"

using namespace sdw;
using namespace sdw::test;
using sdw::image_test::read_file;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* kPrompt = "a photo of an astronaut riding a horse on mars";
const char* kNegative = "blurry, lowres, bad anatomy";
const char* kUnit = "ControlNet 0: \"Module: none, Model: tiny-controlnet-sd15, Weight: 1, Guidance Start: 0, Guidance End: 1\"";

std::string cn(const std::string& name) { return fixture("controlnet/" + name); }

std::string parameters_of(const std::string& png) {
  const auto chunks = png_text_chunks(png);
  REQUIRE(chunks.size() == 1);
  return chunks[0].second;
}

}  // namespace

TEST_CASE("generate --controlnet gives diffusers' cn_default image", "[e2e][controlnet]") {
  TempDir tmp;
  const ProcessResult p = run_process({SDW_WORKER_BINARY, "generate", "--model", fixture("pipelines/tiny-sd15"), "--prompt",
                                       kPrompt, "--negative-prompt", kNegative, "--width", "64", "--height", "64", "--steps",
                                       "4", "--guidance", "7.5", "--seed", "42", "--controlnet", cn("tiny-controlnet-sd15"),
                                       "--control-image", cn("control_64x64.png"), "--output", tmp.file("out.png")});
  INFO(p.output());
  REQUIRE(p.exit_code == 0);
  const std::string png = read_file(tmp.file("out.png"));
  CHECK(max_pixel_diff(decode_image(png), load_image(cn("cn_default.png"))) <= 1);
  CHECK_THAT(parameters_of(png), Catch::Matchers::Contains(kUnit));
  // An image per net: a missing one is a usage error before the model loads.
  const ProcessResult bad = run_process({SDW_WORKER_BINARY, "generate", "--model", fixture("pipelines/tiny-sd15"), "--prompt",
                                         "x", "--controlnet", cn("tiny-controlnet-sd15"), "--output", tmp.file("bad.png")});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.output(), Catch::Matchers::Contains("--control-image"));
}

TEST_CASE("a served job's controlnets give diffusers' image; bad ones are 400 before any step", "[e2e][controlnet]") {
  TempDir tmp;
  // A second "ControlNet" whose config is another family's (cross_attention_dim 64), weights shared.
  const fs::path other = fs::path(tmp.path()) / "other-family";
  fs::create_directories(other);
  json config = read_json(cn("tiny-controlnet-sd15/config.json"));
  config["cross_attention_dim"] = 64;
  std::ofstream(other / "config.json") << config.dump();
  fs::create_symlink(cn("tiny-controlnet-sd15/diffusion_pytorch_model.safetensors"),
                     other / "diffusion_pytorch_model.safetensors");
  WorkerProcess w({"--model", fixture("pipelines/tiny-sd15"), "--min-side", "64", "--controlnet",
                   cn("tiny-controlnet-sd15"), "--controlnet", other.string()});
  const std::string id = http_get(w.port(), "/v1/models").body["data"][0]["id"];
  const std::string control = encode_base64(read_file(cn("control_64x64.png")));
  auto job = [&](const json& controlnets) {
    return json{{"operation", "image_generation"}, {"hive_id", "h"}, {"model", id}, {"prompt", kPrompt},
                {"negative_prompt", kNegative}, {"width", 64}, {"height", 64}, {"steps", 4}, {"guidance_scale", 7.5},
                {"seed", 42}, {"controlnets", controlnets}};
  };

  const HttpReply listing = http_get(w.port(), "/v1/controlnets");
  REQUIRE(listing.status == 200);
  REQUIRE(listing.body["data"].size() == 2);
  CHECK(listing.body["data"][1]["name"] == "tiny-controlnet-sd15");
  CHECK(listing.body["data"][1]["conditioning_downscale"] == 2);

  const HttpReply r = post_json(w.port(), job(json::array({{{"model", "tiny-controlnet-sd15"}, {"image", control}}})));
  INFO(r.raw);
  REQUIRE(r.status == 200);
  const SseStream s = read_sse(w.port(), "/v1/jobs/" + r.body["job_id"].get<std::string>() + "/stream");
  REQUIRE(s.named("complete").size() == 1);
  const std::string png = decode_base64(s.named("complete")[0].json()["image"].get<std::string>());
  CHECK(max_pixel_diff(decode_image(png), load_image(cn("cn_default.png"))) <= 1);
  CHECK_THAT(parameters_of(png), Catch::Matchers::Contains(kUnit));

  const std::vector<std::tuple<json, std::string, std::string>> bad = {
      {json::array({{{"model", "nope"}, {"image", control}}}), "CONTROLNET_NOT_FOUND", "controlnets[0].model"},
      {json::array({{{"model", "tiny-controlnet-sd15"}, {"image", "not base64!"}}}), "INVALID_IMAGE", "controlnets[0].image"},
      {json::array({{{"model", "tiny-controlnet-sd15"}}}), "MISSING_FIELD", "controlnets[0].image"},
      {json::array({{{"model", "tiny-controlnet-sd15"}, {"image", control}, {"scale", 2.5}}}), "INVALID_FIELD",
       "controlnets[0].scale"},
      {json::array({{{"model", "tiny-controlnet-sd15"}, {"image", control}, {"start", 0.6}, {"end", 0.5}}}),
       "INVALID_FIELD", "controlnets[0].start"},
      {json::array({{{"model", "tiny-controlnet-sd15"}, {"image", control}, {"end", 1.5}}}), "INVALID_FIELD",
       "controlnets[0].end"},
  };
  for (const auto& [nets, code, param] : bad) {
    const HttpReply e = post_json(w.port(), job(nets));
    INFO(e.raw);
    CHECK(e.status == 400);
    CHECK(e.body["error"]["code"] == code);
    CHECK(e.body["error"]["param"] == param);
  }
  // canny: a served job with the preprocessor runs and says so in its parameters chunk.
  const std::string photo = encode_base64(read_file(fixture("seeded/init_64x64.png")));
  const HttpReply c = post_json(w.port(), job(json::array({{{"model", "tiny-controlnet-sd15"}, {"image", photo},
                                                            {"preprocess", "canny"}, {"canny_low", 50}, {"canny_high", 100}}})));
  INFO(c.raw);
  REQUIRE(c.status == 200);
  const SseStream cs = read_sse(w.port(), "/v1/jobs/" + c.body["job_id"].get<std::string>() + "/stream");
  REQUIRE(cs.named("complete").size() == 1);
  CHECK_THAT(parameters_of(decode_base64(cs.named("complete")[0].json()["image"].get<std::string>())),
             Catch::Matchers::Contains("ControlNet 0: \"Module: canny, Model: tiny-controlnet-sd15"));
  for (const auto& [key, value] : std::vector<std::pair<std::string, json>>{
           {"preprocess", "sobel"}, {"canny_high", 300}, {"canny_low", -1}}) {
    json net = {{"model", "tiny-controlnet-sd15"}, {"image", photo}, {key, value}};
    const HttpReply e = post_json(w.port(), job(json::array({net})));
    INFO(e.raw);
    CHECK(e.status == 400);
    CHECK(e.body["error"]["param"] == "controlnets[0]." + key);
  }
  json five = json::array();
  for (int i = 0; i < 5; ++i) five.push_back({{"model", "tiny-controlnet-sd15"}, {"image", control}});
  CHECK(post_json(w.port(), job(five)).status == 400);
  json guess_alone = job(json::array());
  guess_alone["guess_mode"] = true;
  CHECK(post_json(w.port(), guess_alone).body["error"]["param"] == "guess_mode");
  // Another family: refused when the job is validated against the loaded model, before any step.
  const HttpReply family = post_json(w.port(), job(json::array({{{"model", "other-family"}, {"image", control}}})));
  INFO(family.raw);
  CHECK(family.status == 400);
  CHECK_THAT(family.body["error"]["message"].get<std::string>(), Catch::Matchers::Contains("another model family"));
  CHECK(http_get(w.port(), "/health").status == 200);
}
