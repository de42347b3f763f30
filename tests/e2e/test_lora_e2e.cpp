// LoRAs through `sd-worker serve` end to end: the real binary serving the tiny SD1.5 fixture
// pipeline with `--lora-dir`, jobs naming LoRAs in the `loras` field and as `<lora:name:w>`
// prompt tags give diffusers' images (max pixel difference <= 1 from the fixture PNGs), a job
// without LoRAs after LoRA jobs gives the base image, `GET /v1/loras` lists the folder (not what
// a symlink leads out of it), and every path trick or bad file is a 4xx in the error shape.
// LoRAs from a (fake) Hugging Face Hub as hf:// references, with `serve --hub-loras` and in
// `generate --lora`, give the same images; without --hub-loras they are refused (403).
#include <catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "e2e/http_harness.h"
#include "model/image/image_io.h"
#include "net/hub/fake_hub.h"
#include "seeded_cases.h"

using namespace sdw;
using namespace sdw::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

Image fixture_png(const std::string& name) {
  std::ifstream in(fixture("lora/" + name), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return decode_image(ss.str());
}

json case_job(const std::string& model) {
  return {{"operation", "image_generation"}, {"hive_id", "h"}, {"model", model},
          {"prompt", "a photo of an astronaut riding a horse on mars"},
          {"negative_prompt", "blurry, lowres, bad anatomy"},
          {"width", 64}, {"height", 64}, {"steps", 4}, {"guidance_scale", 7.5}, {"seed", 42}};
}

// Submits and reads the stream to the complete event's image; `applied` gets the event's list
// of LoRAs (null when it has none).
Image run(int port, const json& job, json* applied = nullptr) {
  const HttpReply r = post_json(port, job);
  INFO(r.raw);
  REQUIRE(r.status == 200);
  const SseStream s = read_sse(port, "/v1/jobs/" + r.body["job_id"].get<std::string>() + "/stream");
  REQUIRE(s.named("complete").size() == 1);
  const json complete = s.named("complete")[0].json();
  if (applied) *applied = complete.value("loras", json());
  return decode_image_base64(complete["image"].get<std::string>());
}

}  // namespace

TEST_CASE("serve applies LoRAs per job, equal to diffusers, and refuses path tricks", "[e2e][lora]") {
  const fs::path root = fs::temp_directory_path() / ("sdw_lora_e2e_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "loras");
  fs::copy_file(fixture("lora/sd15_A.kohya.safetensors"), root / "loras/detail.safetensors");
  fs::copy_file(fixture("lora/sd15_B.kohya.safetensors"), root / "loras/b.safetensors");
  fs::copy_file(fixture("lora/sd15_A.peft.safetensors"), root / "outside.safetensors");
  fs::create_symlink(root / "outside.safetensors", root / "loras/escape.safetensors");
  std::ofstream(root / "loras/broken.safetensors") << "not a safetensors file";
  const std::string model = fixture("pipelines/tiny-sd15");
  WorkerProcess w({"--model", model, "--min-side", "64", "--lora-dir", (root / "loras").string()});
  const std::string id = http_get(w.port(), "/v1/models").body["data"][0]["id"];

  SECTION("images equal diffusers' for the field, the prompt tag, two LoRAs, and none after them") {
    json applied;
    const Image before = run(w.port(), case_job(id), &applied);  // no LoRA, before any was fused
    json one = case_job(id);
    one["loras"] = json::array({{{"path", "detail"}, {"strength", 1.0}}});
    const int d1 = max_pixel_diff(run(w.port(), one), fixture_png("sd15_A_kohya_s1.png"));
    json half = case_job(id);
    half["prompt"] = half["prompt"].get<std::string>() + " <lora:detail:0.5>";
    const int d05 = max_pixel_diff(run(w.port(), half), fixture_png("sd15_A_kohya_s05.png"));
    json two = case_job(id);
    two["loras"] = json::array({{{"path", "detail"}, {"strength", 0.7}}, {{"path", "b.safetensors"}, {"strength", 0.4}}});
    const int d2 = max_pixel_diff(run(w.port(), two, &applied), fixture_png("sd15_A07_B04.png"));
    CHECK(applied == json::parse(R"([{"name":"detail","strength":0.7},{"name":"b","strength":0.4}])"));
    const Image after = run(w.port(), case_job(id), &applied);
    const int d0 = max_pixel_diff(after, fixture_png("sd15_nolora.png"));
    CHECK(applied.is_null());
    CHECK(after.pixels == before.pixels);  // unfusing restored every weight exactly
    INFO("max pixel diff: A x1 " << d1 << ", A x0.5 (prompt tag) " << d05 << ", A x0.7 + B x0.4 " << d2 << ", none after " << d0);
    CHECK(d1 <= 1);
    CHECK(d05 <= 1);
    CHECK(d2 <= 1);
    CHECK(d0 <= 1);
  }
  SECTION("the listing shows the folder's LoRAs, not what a symlink leads out to") {
    const HttpReply r = http_get(w.port(), "/v1/loras");
    REQUIRE(r.status == 200);
    std::vector<std::string> names;
    for (const auto& item : r.body["data"]) names.push_back(item["name"]);
    CHECK(names == std::vector<std::string>{"b", "broken", "detail"});
    CHECK(r.body["data"][2]["family"] == "sd1");
    CHECK(r.body["data"][2]["rank"] == 4);
    CHECK(r.body["data"][1].contains("error"));
  }
  SECTION("path tricks and bad files are 4xx in the error shape") {
    const std::vector<std::tuple<std::string, int, std::string>> cases = {
        {"/etc/passwd", 400, "INVALID_FIELD"},
        {"../outside", 400, "INVALID_FIELD"},
        {"escape", 403, "LORA_PATH_FORBIDDEN"},
        {"model.ckpt", 400, "INVALID_FIELD"},
        {"missing", 400, "LORA_NOT_FOUND"},
        {"broken", 400, "INVALID_LORA"},
    };
    for (const auto& [path, status, code] : cases) {
      json job = case_job(id);
      job["loras"] = json::array({{{"path", path}}});
      const HttpReply r = post_json(w.port(), job);
      INFO(path << ": " << r.raw);
      CHECK(r.status == status);
      CHECK(r.body["error"]["code"] == code);
      CHECK(r.body["error"]["param"] == (code == "INVALID_LORA" ? "loras" : "loras[0].path"));
    }
    json bad_strength = case_job(id);
    bad_strength["loras"] = json::array({{{"path", "detail"}, {"strength", 11}}});
    CHECK(post_json(w.port(), bad_strength).body["error"]["param"] == "loras[0].strength");
    json bad_tag = case_job(id);
    bad_tag["prompt"] = "a cat <lora:../outside:1>";
    CHECK(post_json(w.port(), bad_tag).status == 400);
  }
  CHECK(http_get(w.port(), "/health").status == 200);
  fs::remove_all(root);
}

TEST_CASE("hf:// LoRAs: generate --lora and serve --hub-loras download them and give diffusers' images", "[e2e][lora][hub]") {
  using namespace sdw::test::fake_hub;
  FakeHub hub;
  hub.add("org/loras", make_repo("loras", {{"detail.safetensors", read_file(fixture("lora/sd15_A.kohya.safetensors"))},
                                           {"old.ckpt", "pickle"}}));
  TempDir tmp;
  const std::vector<std::pair<std::string, std::string>> env = {{"HF_HOME", tmp.file("hf")}, {"HF_ENDPOINT", hub.endpoint()}};
  const std::string model = fixture("pipelines/tiny-sd15");

  SECTION("generate --lora hf://...:0.5") {
    const json c = case_job("x");
    const ProcessResult p = run_process(
        {SDW_WORKER_BINARY, "generate", "--model", model, "--prompt", c["prompt"], "--negative-prompt", c["negative_prompt"],
         "--width", "64", "--height", "64", "--steps", "4", "--guidance", "7.5", "--seed", "42", "--output", tmp.file("out.png"),
         "--lora", "hf://org/loras/detail.safetensors:0.5"},
        env, {"HF_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_CACHE"});
    INFO(p.output());
    REQUIRE(p.exit_code == 0);
    CHECK(max_pixel_diff(load_image(tmp.file("out.png")), fixture_png("sd15_A_kohya_s05.png")) <= 1);
    const ProcessResult missing = run_process({SDW_WORKER_BINARY, "generate", "--model", model, "--prompt", "x", "--output",
                                               tmp.file("m.png"), "--lora", "hf://org/loras/nope.safetensors"},
                                              env);
    CHECK(missing.exit_code == 2);
    CHECK_THAT(missing.output(), Catch::Contains("has no file 'nope.safetensors'"));
  }
  SECTION("serve: only with --hub-loras; errors in the error shape") {
    {
      WorkerProcess off({"--model", model, "--min-side", "64"}, env);
      json j = case_job(http_get(off.port(), "/v1/models").body["data"][0]["id"]);
      j["loras"] = json::array({{{"path", "hf://org/loras/detail.safetensors"}}});
      const HttpReply r = post_json(off.port(), j);
      CHECK(r.status == 403);
      CHECK(r.body["error"]["code"] == "LORA_HUB_DISABLED");
    }
    WorkerProcess w({"--model", model, "--min-side", "64", "--hub-loras"}, env);
    const std::string id = http_get(w.port(), "/v1/models").body["data"][0]["id"];
    json j = case_job(id);
    j["loras"] = json::array({{{"path", "hf://org/loras/detail.safetensors"}, {"strength", 1.0}}});
    json applied;
    CHECK(max_pixel_diff(run(w.port(), j, &applied), fixture_png("sd15_A_kohya_s1.png")) <= 1);
    CHECK(applied == json::parse(R"([{"name":"detail","strength":1.0}])"));
    const std::vector<std::tuple<std::string, int, std::string>> cases = {
        {"hf://org/loras/nope.safetensors", 400, "LORA_NOT_FOUND"},
        {"hf://org/missing/detail.safetensors", 400, "LORA_NOT_FOUND"},
        {"hf://org/loras/old.ckpt", 400, "INVALID_FIELD"},
        {"hf://org/loras/../x.safetensors", 400, "INVALID_FIELD"},
    };
    for (const auto& [path, status, code] : cases) {
      json bad = case_job(id);
      bad["loras"] = json::array({{{"path", path}}});
      const HttpReply r = post_json(w.port(), bad);
      INFO(path << ": " << r.raw);
      CHECK(r.status == status);
      CHECK(r.body["error"]["code"] == code);
    }
  }
}
