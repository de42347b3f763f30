// ControlNet beyond txt2img, through the real binary and real HTTP: an img2img / inpaint job with
// `controlnets` gives the PNG of `sd-worker generate --init-image ... --controlnet ...` with the
// same flags, byte for byte; the AUTOMATIC1111 routes take sd-webui-controlnet's
// `alwayson_scripts.controlnet.args` units and give the PNG of the rbee job with the same settings
// (txt2img, img2img with canny, control_mode "ControlNet is more important" = guess mode), with
// errors in A1111's shape naming the unit's field; `serve --controlnet` loads the net with the
// model, before any job (/v1/controlnets says loaded), and the model's memory estimate grows by
// exactly the net's weight bytes (from its safetensors header, fp32); a net whose weights are
// missing is left out (not loaded, not counted, its jobs 400) while the model still loads.
#include <catch.hpp>

#include <filesystem>
#include <fstream>

#include "e2e/http_harness.h"
#include "e2e/openapi_check.h"
#include "file_bytes.h"
#include "model/image/image_io.h"
#include "model/safetensors/safetensors.h"

using namespace sdw;
using namespace sdw::test;
using nlohmann::json;

namespace {

const char* kPrompt = "a photo of an astronaut riding a horse on mars";
const char* kNegative = "blurry, lowres, bad anatomy";

std::string cn(const std::string& name) { return fixture("controlnet/" + name); }

WorkerProcess& worker() {
  static WorkerProcess w({"--model", fixture("pipelines/tiny-sd15"), "--min-side", "64", "--controlnet",
                          cn("tiny-controlnet-sd15")});
  return w;
}

const OpenApiCheck& api() {
  static const OpenApiCheck check([] {
    std::ifstream in(std::string(SDW_E2E_DIR) + "/../../net/http/openapi.json");
    return json::parse(in);
  }());
  return check;
}

// The reply is a documented status of (path, method) with a conforming JSON body.
HttpReply documented(const std::string& path, const std::string& method, const HttpReply& r) {
  INFO(method << " " << path << " -> " << r.status << ": " << r.raw.substr(0, 300));
  const json* response = api().response(path, method, r.status);
  REQUIRE(response != nullptr);
  const auto problems = api().problems(r.body, (*response)["content"]["application/json"]["schema"]);
  INFO((problems.empty() ? "" : problems.front()));
  CHECK(problems.empty());
  return r;
}

HttpReply a1111(const std::string& route, const json& body) {
  return documented("/sdapi/v1/" + route, "post", http_post(worker().port(), "/sdapi/v1/" + route, body.dump()));
}

// An rbee job's PNG (the `complete` event's image).
std::string job_png(const json& job) {
  const HttpReply r = post_json(worker().port(), job);
  INFO(r.raw.substr(0, 400));
  REQUIRE(r.status == 200);
  const SseStream s = read_sse(worker().port(), "/v1/jobs/" + r.body["job_id"].get<std::string>() + "/stream");
  REQUIRE(s.named("complete").size() == 1);
  return decode_base64(s.named("complete")[0].json()["image"].get<std::string>());
}

std::string a1111_png(const std::string& route, const json& body) {
  const HttpReply r = a1111(route, body);
  INFO(r.raw.substr(0, 400));
  REQUIRE(r.status == 200);
  REQUIRE(r.body["images"].size() == 1);
  return decode_base64(r.body["images"][0].get<std::string>());
}

json rbee_job(const std::string& operation) {
  return {{"operation", operation}, {"hive_id", "h"}, {"model", http_get(worker().port(), "/v1/models").body["data"][0]["id"]},
          {"prompt", kPrompt}, {"negative_prompt", kNegative}, {"width", 64}, {"height", 64}, {"steps", 4},
          {"guidance_scale", 7.5}, {"seed", 42}};
}

json a1111_body() {
  return {{"prompt", kPrompt}, {"negative_prompt", kNegative}, {"width", 64}, {"height", 64}, {"steps", 4},
          {"cfg_scale", 7.5}, {"seed", 42}};
}

json units(const json& unit) { return {{"controlnet", {{"args", json::array({unit})}}}}; }

}  // namespace

TEST_CASE("serve --controlnet loads the net with the model, and its weights are in the estimate", "[e2e][controlnet]") {
  // Before any job: the served net is loaded.
  const HttpReply listing = documented("/v1/controlnets", "get", http_get(worker().port(), "/v1/controlnets"));
  REQUIRE(listing.body["data"].size() == 1);
  CHECK(listing.body["data"][0]["loaded"] == true);
  // The estimate of the same model served without it is smaller by the net's fp32 weight bytes.
  int64_t weight_bytes = 0;
  const SafetensorsFile st = SafetensorsFile::open(cn("tiny-controlnet-sd15/diffusion_pytorch_model.safetensors"));
  for (const auto& [name, info] : st.infos()) {
    int64_t numel = 1;
    for (int64_t s : info.shape) numel *= s;
    weight_bytes += numel * 4;
  }
  // ... served beside a ControlNet folder whose weights are missing: the worker still loads the
  // model (ready), that net is left out of memory and of the estimate, and jobs naming it are 400s.
  TempDir tmp;
  const std::filesystem::path broken = std::filesystem::path(tmp.path()) / "broken-net";
  std::filesystem::create_directories(broken);
  std::filesystem::copy_file(cn("tiny-controlnet-sd15/config.json"), broken / "config.json");
  WorkerProcess plain({"--model", fixture("pipelines/tiny-sd15"), "--min-side", "64", "--controlnet", broken.string()});
  const HttpReply plain_listing = http_get(plain.port(), "/v1/controlnets");
  REQUIRE(plain_listing.body["data"].size() == 1);
  CHECK(plain_listing.body["data"][0]["loaded"] == false);
  const int64_t with = http_get(worker().port(), "/v1/models").body["data"][0]["memory"]["estimate_bytes"];
  const int64_t without = http_get(plain.port(), "/v1/models").body["data"][0]["memory"]["estimate_bytes"];
  INFO("estimate with " << with << ", without " << without << ", ControlNet weights " << weight_bytes);
  CHECK(weight_bytes > 0);
  CHECK(with - without == weight_bytes);
  json job = {{"operation", "image_generation"}, {"hive_id", "h"}, {"model", http_get(plain.port(), "/v1/models").body["data"][0]["id"]},
              {"prompt", kPrompt}, {"width", 64}, {"height", 64}, {"steps", 2},
              {"controlnets", json::array({{{"model", "broken-net"}, {"image", encode_base64(file_bytes(cn("control_64x64.png")))}}})}};
  const HttpReply refused = post_json(plain.port(), job);
  INFO(refused.raw.substr(0, 300));
  CHECK(refused.status == 400);
}

TEST_CASE("img2img and inpaint jobs with controlnets give generate's PNG", "[e2e][controlnet]") {
  TempDir tmp;
  const std::string init = fixture("seeded/init_64x64.png"), mask = fixture("seeded/mask_64x64.png");
  for (const bool inpaint : {false, true}) {
    INFO((inpaint ? "inpaint" : "img2img"));
    std::vector<std::string> argv = {SDW_WORKER_BINARY, "generate", "--model", fixture("pipelines/tiny-sd15"), "--prompt",
                                     kPrompt, "--negative-prompt", kNegative, "--width", "64", "--height", "64", "--steps",
                                     "4", "--guidance", "7.5", "--seed", "42", "--init-image", init, "--strength", "0.7",
                                     "--controlnet", cn("tiny-controlnet-sd15"), "--control-image", cn("control_64x64.png"),
                                     "--control-scale", "0.8", "--control-end", "0.7", "--output", tmp.file("cli.png")};
    if (inpaint) argv.insert(argv.end(), {"--mask-image", mask});
    const ProcessResult p = run_process(argv);
    INFO(p.output());
    REQUIRE(p.exit_code == 0);
    json job = rbee_job(inpaint ? "image_inpaint" : "image_transform");
    job[inpaint ? "init_image" : "input_image"] = encode_base64(file_bytes(init));
    if (inpaint) job["mask_image"] = encode_base64(file_bytes(mask));
    job["strength"] = 0.7;
    job["controlnets"] = json::array({{{"model", "tiny-controlnet-sd15"},
                                       {"image", encode_base64(file_bytes(cn("control_64x64.png")))},
                                       {"scale", 0.8}, {"end", 0.7}}});
    const std::string served = job_png(job);
    CHECK(served == file_bytes(tmp.file("cli.png")));
    // ... and the ControlNet acted: without it the image differs.
    job.erase("controlnets");
    CHECK(decode_image(job_png(job)).pixels != decode_image(served).pixels);
  }
}

TEST_CASE("A1111 alwayson_scripts.controlnet gives the rbee job's PNG", "[e2e][controlnet][a1111]") {
  const std::string control = encode_base64(file_bytes(cn("control_64x64.png")));
  // txt2img: weight / guidance window, the webui's "name [hash]" model names.
  json body = a1111_body();
  body["alwayson_scripts"] = units({{"enabled", true}, {"image", "data:image/png;base64," + control},
                                    {"model", "tiny-controlnet-sd15 [0123abcd]"}, {"module", "none"}, {"weight", 0.6},
                                    {"guidance_start", 0.25}, {"guidance_end", 0.75}, {"control_mode", "Balanced"},
                                    {"resize_mode", "Crop and Resize"}, {"pixel_perfect", false}});
  json job = rbee_job("image_generation");
  job["controlnets"] = json::array({{{"model", "tiny-controlnet-sd15"}, {"image", control}, {"scale", 0.6},
                                     {"start", 0.25}, {"end", 0.75}}});
  const std::string txt2img = a1111_png("txt2img", body);
  CHECK(txt2img == job_png(job));

  // control_mode 2 ("ControlNet is more important") is the job's guess mode.
  body["alwayson_scripts"]["controlnet"]["args"][0]["control_mode"] = 2;
  job["guess_mode"] = true;
  const std::string guess = a1111_png("txt2img", body);
  CHECK(guess == job_png(job));
  CHECK(guess != txt2img);

  // A disabled unit is no unit: plain txt2img.
  json disabled = a1111_body();
  disabled["alwayson_scripts"] = units({{"enabled", false}, {"image", control}, {"model", "tiny-controlnet-sd15"}});
  CHECK(decode_image(a1111_png("txt2img", disabled)).pixels == decode_image(a1111_png("txt2img", a1111_body())).pixels);

  // img2img with the canny module (input_image, the older name of image; thresholds a / b).
  const std::string photo = encode_base64(file_bytes(fixture("seeded/init_64x64.png")));
  json i2i = a1111_body();
  i2i["init_images"] = json::array({photo});
  i2i["denoising_strength"] = 0.7;
  i2i["alwayson_scripts"] = units({{"input_image", photo}, {"model", "tiny-controlnet-sd15"}, {"module", "canny"},
                                   {"threshold_a", 50}, {"threshold_b", 120}, {"resize_mode", "Just Resize"}});
  json i2i_job = rbee_job("image_transform");
  i2i_job["input_image"] = photo;
  i2i_job["strength"] = 0.7;
  i2i_job["controlnets"] = json::array({{{"model", "tiny-controlnet-sd15"}, {"image", photo}, {"preprocess", "canny"},
                                         {"canny_low", 50}, {"canny_high", 120}}});
  const std::string img2img = a1111_png("img2img", i2i);
  CHECK(img2img == job_png(i2i_job));
  const auto info_chunks = png_text_chunks(img2img);
  REQUIRE(info_chunks.size() == 1);
  CHECK_THAT(info_chunks[0].second, Catch::Matchers::Contains("ControlNet 0: \"Module: canny, Model: tiny-controlnet-sd15"));
}

TEST_CASE("A1111 ControlNet units the worker cannot run are 400s naming the unit's field", "[e2e][controlnet][a1111]") {
  const std::string control = encode_base64(file_bytes(cn("control_64x64.png")));
  const json unit = {{"image", control}, {"model", "tiny-controlnet-sd15"}};
  const std::vector<std::tuple<json, std::string, std::string>> bad = {
      {{{"model", "control_v11p_sd15_canny [d14c016b]"}}, "CONTROLNET_NOT_FOUND", "model"},
      {{{"model", "None"}}, "MISSING_FIELD", "model"},
      {{{"image", nullptr}}, "MISSING_FIELD", "image"},
      {{{"module", "depth_midas"}}, "INVALID_FIELD", "module"},
      {{{"weight", 3}}, "INVALID_FIELD", "weight"},
      {{{"guidance_start", 0.8}, {"guidance_end", 0.2}}, "INVALID_FIELD", "guidance_start"},
      {{{"control_mode", "My prompt is more important"}}, "INVALID_FIELD", "control_mode"},
      {{{"module", "canny"}, {"threshold_b", 400}}, "INVALID_FIELD", "threshold_b"},
      // the default resize mode crops: refused for a control image of another aspect ratio
      {{{"image", encode_base64(file_bytes(cn("control_96x72.png")))}}, "INVALID_FIELD", "resize_mode"},
  };
  for (const auto& [change, code, field] : bad) {
    json u = unit;
    for (const auto& [k, v] : change.items()) u[k] = v;
    json body = a1111_body();
    body["alwayson_scripts"] = units(u);
    const HttpReply r = a1111("txt2img", body);
    INFO(change.dump().substr(0, 200) << " -> " << r.raw.substr(0, 300));
    CHECK(r.status == 400);
    CHECK(r.body["error"] == "HTTPException");
    CHECK(r.body["code"] == code);
    CHECK(r.body["detail"].get<std::string>().rfind("alwayson_scripts.controlnet.args[0]." + field, 0) == 0);
  }
  json other = a1111_body();
  other["alwayson_scripts"] = {{"adetailer", {{"args", json::array()}}}};
  CHECK(a1111("txt2img", other).status == 400);
  // "Just Resize" takes the 96x72 image as txt2img's resize does.
  json resized = a1111_body();
  resized["alwayson_scripts"] = units({{"image", encode_base64(file_bytes(cn("control_96x72.png")))},
                                       {"model", "tiny-controlnet-sd15"}, {"resize_mode", 0}});
  CHECK(a1111("txt2img", resized).status == 200);
  CHECK(http_get(worker().port(), "/health").status == 200);
}
