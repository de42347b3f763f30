// The AUTOMATIC1111 API (`/sdapi/v1`) of the real `sd-worker serve`, spoken as A1111 clients speak
// it (plain JSON over HTTP): txt2img with a fixed seed gives exactly the PNG `sd-worker generate`
// writes for the same settings; n_iter runs one job per iteration with A1111's seeds; img2img with
// a mask (and inverted); progress during a job shows the job's preview; interrupt ends the running
// job; samplers lists every scheduler; options, listings and errors in A1111's shape; every answer
// is a documented status whose body conforms to net/http/openapi.json.
#include <catch.hpp>

#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <thread>

#include "e2e/http_harness.h"
#include "e2e/openapi_check.h"
#include "model/image/image_io.h"
#include "model/schedulers/scheduler.h"
#include "net/http/a1111_requests.h"

using namespace sdw;
using namespace sdw::test;
using nlohmann::json;

namespace {

WorkerProcess& worker() {
  static WorkerProcess w({"--min-side", "64"});
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
const HttpReply& documented(const std::string& path, const std::string& method, const HttpReply& r) {
  INFO(method << " " << path << " -> " << r.status << ": " << r.raw.substr(0, 300));
  const json* response = api().response(path, method, r.status);
  REQUIRE(response != nullptr);
  const auto problems = api().problems(r.body, (*response)["content"]["application/json"]["schema"]);
  INFO((problems.empty() ? "" : problems.front()));
  CHECK(problems.empty());
  return r;
}

HttpReply get(const std::string& path) {
  const std::string templ = path.substr(0, path.find('?'));
  return documented(templ, "get", http_get(worker().port(), path));
}

HttpReply post(const std::string& path, const json& body) {
  return documented(path, "post", http_post(worker().port(), path, body.dump()));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string png_base64(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  Image img;
  img.width = w, img.height = h, img.channels = 3;
  for (int i = 0; i < w * h; ++i) img.pixels.insert(img.pixels.end(), {r, g, b});
  return encode_base64(encode_png(img));
}

}  // namespace

TEST_CASE("txt2img with a fixed seed is the PNG of sd-worker generate; n_iter is one job per iteration", "[e2e][a1111]") {
  TempDir tmp;
  const ProcessResult cli = run_process({SDW_WORKER_BINARY, "generate", "--model", "demo", "--prompt", "a lighthouse",
                                         "--negative-prompt", "fog", "--seed", "7", "--steps", "4", "--width", "64",
                                         "--height", "64", "--guidance", "6.5", "--scheduler", "Euler a", "--output",
                                         tmp.file("cli.png")});
  INFO(cli.output());
  REQUIRE(cli.exit_code == 0);
  const json body = {{"prompt", "a lighthouse"}, {"negative_prompt", "fog"}, {"seed", 7},        {"steps", 4},
                     {"width", 64},              {"height", 64},             {"cfg_scale", 6.5}, {"sampler_name", "Euler a"}};
  const HttpReply r = post("/sdapi/v1/txt2img", body);
  INFO(r.raw.substr(0, 400));
  REQUIRE(r.status == 200);
  REQUIRE(r.body["images"].size() == 1);
  CHECK(decode_base64(r.body["images"][0].get<std::string>()) == read_file(tmp.file("cli.png")));
  REQUIRE(r.body["info"].is_string());  // A1111's info is JSON text
  const json info = json::parse(r.body["info"].get<std::string>());
  CHECK(info["seed"] == 7);
  CHECK(info["all_seeds"] == json::array({7}));
  CHECK(info["sampler_name"] == "Euler a");
  CHECK(info["infotexts"][0].get<std::string>().find("Seed: 7") != std::string::npos);
  CHECK(r.body["parameters"]["prompt"] == "a lighthouse");

  json two = body;
  two["n_iter"] = 2;
  two["seed"] = -1;  // random: A1111 draws one, the iterations take seed, seed + batch_size
  two["override_settings"] = {{"CLIP_stop_at_last_layers", 2}};
  const HttpReply r2 = post("/sdapi/v1/txt2img", two);
  REQUIRE(r2.status == 200);
  CHECK(r2.body["images"].size() == 2);
  const json info2 = json::parse(r2.body["info"].get<std::string>());
  CHECK(info2["all_seeds"][1].get<uint64_t>() == info2["all_seeds"][0].get<uint64_t>() + 1);
  CHECK(info2["clip_skip"] == 2);
  CHECK(r2.body["parameters"]["seed"] == -1);
}

TEST_CASE("img2img with a mask inpaints, inverted masks differ, errors name A1111's fields", "[e2e][a1111]") {
  Image mask;
  mask.width = 64, mask.height = 64, mask.channels = 1;
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) mask.pixels.push_back(x < 32 ? 255 : 0);  // white: repaint
  json body = {{"prompt", "a red door"}, {"seed", 3}, {"steps", 4}, {"width", 64}, {"height", 64},
               {"init_images", json::array({png_base64(64, 64, 30, 90, 200)})},
               {"mask", encode_base64(encode_png(mask))}, {"denoising_strength", 0.9}, {"mask_blur", 4},
               {"inpainting_fill", 1}};
  const HttpReply r = post("/sdapi/v1/img2img", body);
  INFO(r.raw.substr(0, 400));
  REQUIRE(r.status == 200);
  const Image out = decode_image_base64(r.body["images"][0].get<std::string>());
  CHECK((out.width == 64 && out.height == 64));
  CHECK(json::parse(r.body["info"].get<std::string>())["denoising_strength"] == 0.9);
  CHECK(r.body["parameters"]["init_images"].is_null());
  body["inpainting_mask_invert"] = 1;
  const HttpReply inverted = post("/sdapi/v1/img2img", body);
  REQUIRE(inverted.status == 200);
  CHECK(inverted.body["images"][0] != r.body["images"][0]);

  json bad = body;
  bad["cfg_scale"] = 99;
  const HttpReply refused = post("/sdapi/v1/img2img", bad);
  CHECK(refused.status == 400);
  CHECK(refused.body["error"] == "HTTPException");
  CHECK(refused.body["detail"].get<std::string>().rfind("cfg_scale", 0) == 0);
  CHECK(refused.body["errors"].get<std::string>().rfind("400: ", 0) == 0);
  bad = body;
  bad.erase("init_images");
  CHECK(post("/sdapi/v1/img2img", bad).body["detail"] == "init_images is required");
  CHECK(post("/sdapi/v1/txt2img", {{"prompt", "x"}, {"sampler_name", "Warp"}}).body["code"] == "INVALID_FIELD");
  CHECK(post("/sdapi/v1/txt2img", {{"prompt", "x"}, {"enable_hr", true}, {"hr_upscaler", "R-ESRGAN 4x+"}}).status == 400);
}

TEST_CASE("progress shows the running job's preview, interrupt ends it", "[e2e][a1111]") {
  const int port = worker().port();
  auto running = std::async(std::launch::async, [port] {
    const json slow = {{"prompt", "a slow one"}, {"seed", 5}, {"steps", 150}, {"width", 256}, {"height", 256}};
    return http_post(port, "/sdapi/v1/txt2img", slow.dump());
  });
  // The job A1111's progress refers to: bounded polling until the request's job is queued.
  std::string job;
  for (int i = 0; i < 2000 && job.empty(); ++i) {
    job = get("/sdapi/v1/progress").body["state"].value("job", "");
    if (job.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE_FALSE(job.empty());
  // Wait for the job's first preview event on its rbee stream, then progress must carry one.
  const SseStream s = read_sse(port, "/v1/jobs/" + job + "/stream", {}, [](const SseEvent& e) { return e.event != "preview"; });
  REQUIRE(s.dropped);
  json progress;
  for (int i = 0; i < 2000 && (progress.is_null() || progress["current_image"].is_null()); ++i)
    progress = get("/sdapi/v1/progress").body;  // the handler reads the same event
  REQUIRE(progress["current_image"].is_string());
  const Image preview = decode_image_base64(progress["current_image"].get<std::string>());
  CHECK(preview.width > 0);
  CHECK(progress["progress"].get<double>() > 0);
  CHECK(progress["eta_relative"].get<double>() >= 0);
  CHECK(progress["state"]["sampling_steps"] == 150);
  CHECK(get("/sdapi/v1/progress?skip_current_image=true").body["current_image"].is_null());

  CHECK(documented("/sdapi/v1/interrupt", "post", http_post(port, "/sdapi/v1/interrupt", "")).status == 200);
  const HttpReply r = documented("/sdapi/v1/txt2img", "post", running.get());
  REQUIRE(r.status == 200);
  CHECK(r.body["images"].empty());
  CHECK(json::parse(r.body["info"].get<std::string>())["interrupted"] == true);
  CHECK(http_get(port, "/v1/jobs/" + job).body["state"] == "cancelled");
  CHECK(get("/sdapi/v1/progress").body["state"]["job"] == "");
}

TEST_CASE("samplers, schedulers, models, options, loras and memory answer as A1111's", "[e2e][a1111]") {
  const int port = worker().port();
  const HttpReply samplers = get("/sdapi/v1/samplers");
  REQUIRE(samplers.status == 200);
  REQUIRE(samplers.body.size() == scheduler_names().size());
  for (const std::string& name : scheduler_names()) {
    INFO(name);
    bool listed = false;
    for (const json& s : samplers.body)
      listed = listed || (s["name"] == net::a1111_sampler_name(name) && s["aliases"][0] == name);
    CHECK(listed);
  }
  CHECK(get("/sdapi/v1/schedulers").body[1]["label"] == "Karras");
  CHECK(get("/sdapi/v1/sd-models").body[0]["model_name"] == "demo");
  CHECK(get("/sdapi/v1/options").body["sd_model_checkpoint"] == "demo");
  CHECK(post("/sdapi/v1/options", json{{"sd_model_checkpoint", "demo"}}).status == 200);
  const HttpReply other = post("/sdapi/v1/options", json{{"sd_model_checkpoint", "sdxl"}});
  CHECK(other.status == 400);
  CHECK(other.body["code"] == "MODEL_NOT_FOUND");
  CHECK(post("/sdapi/v1/options", json{{"CLIP_stop_at_last_layers", 2}}).status == 400);
  CHECK(get("/sdapi/v1/loras").body == json::array());
  CHECK(get("/sdapi/v1/memory").body["ram"]["total"].get<int64_t>() > 0);
  CHECK(documented("/sdapi/v1/txt2img", "post", http_post(port, "/sdapi/v1/txt2img", "{}", "text/plain")).status == 415);
  CHECK(documented("/sdapi/v1/skip", "post", http_post(port, "/sdapi/v1/skip", "")).status == 200);
  const HttpReply unknown = http_get(port, "/sdapi/v1/png-info");  // not implemented: A1111's shape too
  CHECK(unknown.status == 404);
  CHECK(unknown.body["code"] == "ROUTE_NOT_FOUND");
  CHECK(unknown.body["detail"].is_string());
  const std::string metrics = http_get(port, "/metrics").raw;
  CHECK(metrics.find("sdw_http_requests_total{route=\"a1111_samplers\",status=\"200\"}") != std::string::npos);
}

TEST_CASE("A1111 prompt syntax: emphasis and BREAK change the image, which is generate --prompt-syntax a1111's", "[e2e][a1111]") {
  TempDir tmp;
  // Weights, an escape and BREAK (a second chunk, so the negative gets an empty chunk too).
  const std::string prompt = "a (lighthouse:1.4) at night BREAK [fog], \\(sea\\)";
  const ProcessResult cli = run_process({SDW_WORKER_BINARY, "generate", "--model", "demo", "--prompt", prompt,
                                         "--prompt-syntax", "a1111", "--negative-prompt", "rain", "--seed", "7", "--steps",
                                         "4", "--width", "64", "--height", "64", "--guidance", "6.5", "--output",
                                         tmp.file("a1111.png")});
  INFO(cli.output());
  REQUIRE(cli.exit_code == 0);
  json body = {{"prompt", prompt}, {"negative_prompt", "rain"}, {"seed", 7},       {"steps", 4},
               {"width", 64},      {"height", 64},              {"cfg_scale", 6.5}};
  const HttpReply r = post("/sdapi/v1/txt2img", body);
  REQUIRE(r.status == 200);
  CHECK(decode_base64(r.body["images"][0].get<std::string>()) == read_file(tmp.file("a1111.png")));
  // The same words without the syntax: another image (pixels compared; the texts differ anyway).
  body["prompt"] = "a lighthouse at night fog, (sea)";
  const HttpReply plain = post("/sdapi/v1/txt2img", body);
  REQUIRE(plain.status == 200);
  CHECK(decode_image_base64(plain.body["images"][0].get<std::string>()).pixels !=
        decode_image_base64(r.body["images"][0].get<std::string>()).pixels);
  // A weight A1111 cannot read is a 400 naming the prompt.
  body["prompt"] = "a (lighthouse:1.2.3)";
  const HttpReply bad = post("/sdapi/v1/txt2img", body);
  CHECK(bad.status == 400);
  CHECK(bad.body["detail"].get<std::string>().find("1.2.3") != std::string::npos);
}

TEST_CASE("an empty prompt is a prompt on the A1111 route (as in A1111), not on rbee's", "[e2e][a1111]") {
  const int port = worker().port();
  for (const json& body : {json{{"prompt", ""}, {"seed", 2}, {"steps", 2}, {"width", 64}, {"height", 64}},
                           json{{"seed", 2}, {"steps", 2}, {"width", 64}, {"height", 64}}}) {
    const HttpReply r = post("/sdapi/v1/txt2img", body);
    INFO(r.raw.substr(0, 300));
    CHECK(r.status == 200);
    CHECK(r.body["images"].size() == 1);
  }
  json job = demo_job();
  job["prompt"] = "";
  const HttpReply rbee = post_json(port, job);
  CHECK(rbee.status == 400);
  CHECK(rbee.body["error"]["param"] == "prompt");
}

TEST_CASE("batch_size x n_iter: all_seeds seed, seed + 1, ...; each image is its seed's alone", "[e2e][a1111]") {
  json body = {{"prompt", "a boat"}, {"seed", 11}, {"steps", 2}, {"width", 64}, {"height", 64}, {"batch_size", 2}, {"n_iter", 2}};
  const HttpReply r = post("/sdapi/v1/txt2img", body);
  REQUIRE(r.status == 200);
  REQUIRE(r.body["images"].size() == 4);
  const json info = json::parse(r.body["info"].get<std::string>());
  CHECK(info["seed"] == 11);
  CHECK(info["all_seeds"] == json::array({11, 12, 13, 14}));
  CHECK(info["batch_size"] == 2);
  for (int k = 0; k < 4; ++k) CHECK(info["infotexts"][k].get<std::string>().find("Seed: " + std::to_string(11 + k)) != std::string::npos);
  // A1111 seeds each image alone: the second image is the image of seed 12 at batch size 1.
  body["seed"] = 12;
  body["batch_size"] = 1;
  body["n_iter"] = 1;
  const HttpReply one = post("/sdapi/v1/txt2img", body);
  REQUIRE(one.status == 200);
  CHECK(one.body["images"][0] == r.body["images"][1]);
}

TEST_CASE("inpainting_fill 0-3 each start the masked area their way; 4 is refused; mask_blur acts", "[e2e][a1111]") {
  Image mask;
  mask.width = 64, mask.height = 64, mask.channels = 1;
  mask.pixels.assign(64 * 64, 255);
  json body = {{"prompt", "a red door"}, {"seed", 3}, {"steps", 2}, {"width", 64}, {"height", 64},
               {"init_images", json::array({png_base64(64, 64, 30, 90, 200)})}, {"mask", encode_base64(encode_png(mask))}};
  // The whole image masked, at the default denoising strength 0.75: fill (nothing around to take
  // colours from: black), original (the blue image), latent noise and latent nothing start apart.
  std::set<std::string> images;
  for (int fill : {0, 1, 2, 3}) {
    body["inpainting_fill"] = fill;
    const HttpReply r = post("/sdapi/v1/img2img", body);
    INFO("inpainting_fill " << fill << ": " << r.raw.substr(0, 300));
    REQUIRE(r.status == 200);
    CHECK(json::parse(r.body["info"].get<std::string>())["denoising_strength"] == 0.75);
    images.insert(r.body["images"][0].get<std::string>());
  }
  CHECK(images.size() == 4);
  body["inpainting_fill"] = 4;
  const HttpReply refused = post("/sdapi/v1/img2img", body);
  CHECK(refused.status == 400);
  CHECK(refused.body["detail"].get<std::string>().rfind("inpainting_fill", 0) == 0);

  // mask_blur blurs the binary mask before the pipeline keeps its pixels >= 128: a 4-pixel stripe
  // blurred with sigma 4 peaks near 255 x erf(2 / (4 sqrt 2)) = 98, so nothing is left to repaint.
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) mask.pixels[static_cast<size_t>(y * 64 + x)] = (x >= 30 && x < 34) ? 255 : 0;
  body["mask"] = encode_base64(encode_png(mask));
  body["inpainting_fill"] = 1;
  body["mask_blur"] = 0;
  const HttpReply sharp = post("/sdapi/v1/img2img", body);
  body["mask_blur"] = 4;
  const HttpReply blurred = post("/sdapi/v1/img2img", body);
  REQUIRE((sharp.status == 200 && blurred.status == 200));
  const Image sharp_image = to_rgb(decode_image_base64(sharp.body["images"][0].get<std::string>()));
  CHECK(sharp_image.pixels != decode_image_base64(blurred.body["images"][0].get<std::string>()).pixels);
  // A1111's overlay: outside the (sharp) mask the answer is the original pixel for pixel, inside
  // it is the generated image.
  bool outside_original = true, inside_changed = false;
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) {
      const uint8_t* p = &sharp_image.pixels[static_cast<size_t>(y * 64 + x) * 3];
      const bool original = p[0] == 30 && p[1] == 90 && p[2] == 200;
      if (x >= 30 && x < 34) inside_changed = inside_changed || !original;
      else outside_original = outside_original && original;
    }
  CHECK(outside_original);
  CHECK(inside_changed);
}
