// ControlNet surfaces for SDXL and for single-file ControlNets, through the real binary:
// - `generate --controlnet` on tiny-sdxl with a tiny SDXL ControlNet made as
//   ControlNetModel.from_unet makes one (all-zero zero convolutions, tests/tiny_controlnet_sdxl.h)
//   gives plain SDXL's pixels, as a folder and as a diffusers-named single file; an SD1.5
//   ControlNet on SDXL exits with the usage code 2 before any step;
// - a served tiny-sdxl's `controlnets` job does the same and an SD1.5 ControlNet is a 400;
// - `serve --controlnet FILE.safetensors` (the tiny fixture ControlNet in lllyasviel's ControlLDM
//   layout, tests/controlnet_ldm_file.h) is listed by GET /v1/controlnets under the file's stem and
//   its job gives diffusers' cn_default PNG (max pixel difference <= 1); a .pth is refused at start.
#include <catch.hpp>

#include <filesystem>
#include <fstream>

#include "controlnet_ldm_file.h"
#include "e2e/http_harness.h"
#include "image_test_util.h"
#include "model/image/image_io.h"
#include "seeded_cases.h"
#include "tiny_controlnet_sdxl.h"

using namespace sdw;
using namespace sdw::test;
using sdw::image_test::read_file;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* kPrompt = "a photo of an astronaut riding a horse on mars";
const char* kNegative = "blurry, lowres, bad anatomy";

std::string cn(const std::string& name) { return fixture("controlnet/" + name); }

Image complete_image(int port, const HttpReply& r) {
  INFO(r.raw);
  REQUIRE(r.status == 200);
  const SseStream s = read_sse(port, "/v1/jobs/" + r.body["job_id"].get<std::string>() + "/stream");
  REQUIRE(s.named("complete").size() == 1);
  return decode_image(decode_base64(s.named("complete")[0].json()["image"].get<std::string>()));
}

}  // namespace

TEST_CASE("generate --controlnet on SDXL: from_unet's zero convolutions give plain SDXL, a folder or a single file",
          "[e2e][controlnet][sdxl]") {
  TempDir tmp;
  TinySdxlControlNetOptions o;
  o.random_cond_out = true;
  const std::string folder = make_tiny_sdxl_controlnet(tmp, "cn-xl-zero", o);
  fs::copy_file(folder + "/diffusion_pytorch_model.safetensors", tmp.file("cn-xl-zero.safetensors"));
  auto gen = [&](const std::vector<std::string>& extra, const std::string& out) {
    std::vector<std::string> argv = {SDW_WORKER_BINARY, "generate", "--model", fixture("pipelines/tiny-sdxl"), "--prompt",
                                     kPrompt, "--width", "32", "--height", "32", "--steps", "3", "--seed", "5",
                                     "--output", tmp.file(out)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_process(argv);
  };
  const ProcessResult plain = gen({}, "plain.png");
  INFO(plain.output());
  REQUIRE(plain.exit_code == 0);
  const Image expected = decode_image(read_file(tmp.file("plain.png")));
  for (const std::string& net : {folder, tmp.file("cn-xl-zero.safetensors")}) {
    const ProcessResult p = gen({"--controlnet", net, "--control-image", cn("control_64x64.png")}, "cn.png");
    INFO(p.output());
    REQUIRE(p.exit_code == 0);
    const Image got = decode_image(read_file(tmp.file("cn.png")));
    CHECK(got.pixels == expected.pixels);
  }
  const ProcessResult other = gen({"--controlnet", cn("tiny-controlnet-sd15"), "--control-image", cn("control_64x64.png")},
                                  "other.png");
  CHECK(other.exit_code == 2);
  CHECK_THAT(other.output(), Catch::Matchers::Contains("another model family"));
  CHECK(!fs::exists(tmp.file("other.png")));
}

TEST_CASE("a served SDXL job's controlnets run; an SD1.5 ControlNet on SDXL is a 400", "[e2e][controlnet][sdxl]") {
  TempDir tmp;
  const std::string folder = make_tiny_sdxl_controlnet(tmp, "cn-xl-zero");
  WorkerProcess w({"--model", fixture("pipelines/tiny-sdxl"), "--min-side", "32", "--controlnet", folder, "--controlnet",
                   cn("tiny-controlnet-sd15")});
  const std::string id = http_get(w.port(), "/v1/models").body["data"][0]["id"];
  const std::string control = encode_base64(read_file(cn("control_64x64.png")));
  auto job = [&](const json& controlnets) {
    json j = {{"operation", "image_generation"}, {"hive_id", "h"}, {"model", id}, {"prompt", kPrompt},
              {"negative_prompt", kNegative}, {"width", 32}, {"height", 32}, {"steps", 3}, {"seed", 5}};
    if (!controlnets.empty()) j["controlnets"] = controlnets;
    return j;
  };
  const Image plain = complete_image(w.port(), post_json(w.port(), job(json::array())));
  const Image with = complete_image(w.port(), post_json(w.port(), job(json::array({{{"model", "cn-xl-zero"}, {"image", control}}}))));
  CHECK(with.pixels == plain.pixels);
  const HttpReply e = post_json(w.port(), job(json::array({{{"model", "tiny-controlnet-sd15"}, {"image", control}}})));
  INFO(e.raw);
  CHECK(e.status == 400);
  CHECK_THAT(e.body["error"]["message"].get<std::string>(), Catch::Matchers::Contains("another model family"));
  CHECK(http_get(w.port(), "/health").status == 200);
}

TEST_CASE("serve --controlnet FILE.safetensors: listed by its stem, its job gives diffusers' cn_default image",
          "[e2e][controlnet][single_file]") {
  TempDir tmp;
  const std::string file = write_controlnet_ldm(tmp, cn("tiny-controlnet-sd15"), "control_tiny_sd15.safetensors",
                                                "control_model.", false);
  WorkerProcess w({"--model", fixture("pipelines/tiny-sd15"), "--min-side", "64", "--controlnet", file});
  const HttpReply listing = http_get(w.port(), "/v1/controlnets");
  INFO(listing.raw);
  REQUIRE(listing.status == 200);
  REQUIRE(listing.body["data"].size() == 1);
  CHECK(listing.body["data"][0]["name"] == "control_tiny_sd15");
  CHECK(listing.body["data"][0]["cross_attention_dim"] == 32);
  CHECK(listing.body["data"][0]["block_out_channels"] == json::array({32, 64}));
  CHECK(listing.body["data"][0]["conditioning_downscale"] == 2);
  const std::string id = http_get(w.port(), "/v1/models").body["data"][0]["id"];
  const json body = {{"operation", "image_generation"}, {"hive_id", "h"}, {"model", id}, {"prompt", kPrompt},
                     {"negative_prompt", kNegative}, {"width", 64}, {"height", 64}, {"steps", 4}, {"guidance_scale", 7.5},
                     {"seed", 42},
                     {"controlnets", json::array({{{"model", "control_tiny_sd15"},
                                                   {"image", encode_base64(read_file(cn("control_64x64.png")))}}})}};
  const Image got = complete_image(w.port(), post_json(w.port(), body));
  CHECK(max_pixel_diff(got, load_image(cn("cn_default.png"))) <= 1);

  // A pickle ControlNet is refused at start with the reason, exit code 2.
  std::ofstream(tmp.file("control_v11p_sd15_canny.pth"), std::ios::binary) << std::string("\x80\x02}q\x00.", 6);
  const ProcessResult pth = run_process({SDW_WORKER_BINARY, "serve", "--model", fixture("pipelines/tiny-sd15"), "--port", "0",
                                         "--controlnet", tmp.file("control_v11p_sd15_canny.pth")});
  CHECK(pth.exit_code == 2);
  CHECK_THAT(pth.output(), Catch::Matchers::Contains("pickle"));
}
