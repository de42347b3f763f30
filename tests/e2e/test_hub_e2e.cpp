// End to end: the real `sd-worker` (generate and serve) on a Hugging Face Hub reference, against
// the FAKE HUB on loopback of tests/net/hub/fake_hub.h: a download gives the folder's image,
// catalog names resolve to their repos, a `sd-worker node` downloads its model as serve does, offline and unreachable Hubs use the cache, unsupported
// or too-large models are refused before any download. The download itself: tests/net/hub/test_hub.cpp.
#include <catch.hpp>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "e2e/http_harness.h"
#include "e2e/node_process.h"
#include "model/image/image_io.h"
#include "net/hub/fake_hub.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace sdw;
using namespace sdw::test::fake_hub;
using nlohmann::json;

namespace {

struct RunResult {
  int exit_code = -1;
  std::string output;
};

// Hugging Face variables of the developer's shell or CI that would change the answers.
const std::vector<std::string> kHfEnv = {"HF_TOKEN",     "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
                                         "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE",  "HF_ENDPOINT",    "HF_TOKEN_PATH"};

// The real binary with a clean Hugging Face environment plus `env` ("NAME=value" each).
RunResult run_worker(const std::vector<std::string>& env, const std::vector<std::string>& args) {
  test::EnvVars vars;
  for (const auto& e : env) vars.emplace_back(e.substr(0, e.find('=')), e.substr(e.find('=') + 1));
  std::vector<std::string> argv = {SDW_WORKER_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  const test::ProcessResult p = test::run_process(argv, vars, kHfEnv);
  return {p.exit_code, p.output()};
}

}  // namespace

TEST_CASE("`sd-worker generate --model org/name` downloads and gives the folder's image", "[hub][cli]") {
  FakeHub hub;
  const FakeRepo repo = make_repo("cli", fixture_with_extras());
  hub.add("rbee-test/tiny-sd15", repo);
  hub.add("runwayml/stable-diffusion-v1-5", repo);  // the catalog's v1-5
  test::TempDir tmp;
  const std::vector<std::string> gen = {"generate", "--prompt", "a red fox", "--seed",   "3",  "--steps",
                                        "2",        "--width",  "64",        "--height", "64", "--output"};
  auto with = [&](std::vector<std::string> args, const std::string& model, const std::string& out) {
    args.push_back(tmp.file(out));
    args.insert(args.end(), {"--model", model});
    return args;
  };
  const std::string home = "HF_HOME=" + tmp.file("hf");
  RunResult r = run_worker({}, with(gen, test::fixture(kFixture), "folder.png"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  r = run_worker({home, "HF_ENDPOINT=" + hub.endpoint()}, with(gen, "rbee-test/tiny-sd15", "hub.png"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(read_file(tmp.file("hub.png")) == read_file(tmp.file("folder.png")));  // pixels and parameters alike
  CHECK(read_file(tmp.file("hf/hub/models--rbee-test--tiny-sd15/refs/main")) == repo.commit);
  // A catalog version resolves to its repo.
  r = run_worker({home, "HF_ENDPOINT=" + hub.endpoint()}, with(gen, "v1-5", "catalog.png"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(load_image(tmp.file("catalog.png")).pixels == load_image(tmp.file("folder.png")).pixels);
  CHECK(fs::is_directory(tmp.file("hf/hub/models--runwayml--stable-diffusion-v1-5/snapshots/" + repo.commit)));
  // Unknown repo: a clear error and exit code 2.
  r = run_worker({home, "HF_ENDPOINT=" + hub.endpoint()}, with(gen, "rbee-test/nope", "nope.png"));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Matchers::Contains("repository 'rbee-test/nope' not found"));
  // The Hub gone: offline, and online-but-unreachable, both use the cache.
  hub.stop();
  r = run_worker({home, "HF_ENDPOINT=" + hub.endpoint(), "HF_HUB_OFFLINE=1"},
                 with(gen, "rbee-test/tiny-sd15", "offline.png"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(read_file(tmp.file("offline.png")) == read_file(tmp.file("folder.png")));
  r = run_worker({home, "HF_ENDPOINT=" + hub.endpoint()}, with(gen, "rbee-test/tiny-sd15", "unreachable.png"));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(read_file(tmp.file("unreachable.png")) == read_file(tmp.file("folder.png")));
  r = run_worker({home, "HF_ENDPOINT=" + hub.endpoint(), "HF_HUB_OFFLINE=1"}, with(gen, "rbee-test/other", "none.png"));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Matchers::Contains("not in the cache"));
}

TEST_CASE("the catalog's SDXL inpainting version is refused before any download", "[hub][cli]") {
  FakeHub hub;
  hub.add("diffusers/stable-diffusion-xl-1.0-inpainting-0.1", make_repo("xl", fixture_with_extras()));
  test::TempDir tmp;
  for (const std::string model : {"xl-inpaint", "diffusers/stable-diffusion-xl-1.0-inpainting-0.1"}) {
    const RunResult r = run_worker({"HF_HOME=" + tmp.file("hf"), "HF_ENDPOINT=" + hub.endpoint()},
                                   {"generate", "--model", model, "--prompt", "x", "--output", tmp.file("x.png")});
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Matchers::Contains("SDXL inpainting is not supported yet, so nothing was downloaded"));
  }
  CHECK(hub.log().empty());
  CHECK_FALSE(fs::exists(tmp.file("hf/hub")));
}

TEST_CASE("`--model xl` downloads an SDXL pipeline (both text encoders and tokenizers) and generates", "[hub][cli]") {
  FakeHub hub;
  hub.add("stabilityai/stable-diffusion-xl-base-1.0", make_repo("xl", folder_files(test::fixture("pipelines/tiny-sdxl"))));
  test::TempDir tmp;
  const RunResult r = run_worker({"HF_HOME=" + tmp.file("hf"), "HF_ENDPOINT=" + hub.endpoint()},
                                 {"generate", "--model", "xl", "--prompt", "a red cube", "--steps", "2", "--seed", "5",
                                  "--output", tmp.file("xl.png")});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const Image img = load_image(tmp.file("xl.png"));
  CHECK(img.width == 64);  // the tiny UNet's sample_size (32) x its VAE's scale factor (2)
  std::set<std::string> downloaded;  // the components whose files came down
  for (const auto& e : fs::recursive_directory_iterator(tmp.file("hf/hub")))
    if (e.is_regular_file() || e.is_symlink()) downloaded.insert(e.path().parent_path().filename().string());
  for (const char* component : {"text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "unet", "vae"})
    CHECK(downloaded.count(component) == 1);
}

TEST_CASE("`sd-worker serve --model org/name` downloads in the loader, narrates it, and serves", "[hub][http]") {
  FakeHub hub;
  const FakeRepo repo = make_repo("serve", fixture_with_extras());
  hub.add("rbee-test/tiny-sd15", repo);
  hub.add("runwayml/stable-diffusion-v1-5", repo);
  test::TempDir tmp;
  const test::EnvVars env = {{"HF_HOME", tmp.file("hf")}, {"HF_ENDPOINT", hub.endpoint()}};
  {
    test::WorkerProcess wp({"--model", "rbee-test/tiny-sd15", "--min-side", "64", "--quiet"}, env);
    const test::HttpReply models = test::http_get(wp.port(), "/v1/models");
    REQUIRE(models.status == 200);
    CHECK(models.body["data"][0]["id"] == "rbee-test/tiny-sd15");
    CHECK(models.body["data"][0]["status"] == "loaded");
    json job = test::demo_job(2, 3);
    job["model"] = "rbee-test/tiny-sd15";
    const test::HttpReply submit = test::post_json(wp.port(), job);
    REQUIRE(submit.status == 200);
    CHECK(test::wait_for_state(wp.port(), submit.body["job_id"], "completed") == "completed");
    REQUIRE(wp.stop() == 0);
    INFO(wp.log());
    // The download is the loader's narration: each file's start and end, then the weights' load.
    CHECK_THAT(wp.log(), Catch::Matchers::Contains("[loader] model_load") &&
                             Catch::Matchers::Contains("diffusion_pytorch_model.safetensors"));
    CHECK(read_file(tmp.file("hf/hub/models--rbee-test--tiny-sd15/refs/main")) == repo.commit);
  }
  // A catalog model that cannot fit the memory limit is refused before anything is downloaded.
  hub.clear_log();
  test::WorkerProcess big({"--model", "v1-5", "--memory-limit-mb", "512", "--quiet"}, env, true,
                          test::WorkerProcess::WaitFor::listening);
  test::HttpReply ready;
  for (int i = 0; i < 600; ++i) {  // bounded: the refusal comes within moments
    ready = test::http_get(big.port(), "/ready");
    if (ready.status == 503 && ready.body.value("reason", "").find("loading") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  INFO(big.log());
  CHECK(ready.status == 503);
  CHECK_THAT(ready.body.value("reason", ""), Catch::Matchers::Contains("needs about") &&
                                                  Catch::Matchers::Contains("512.0 MiB") &&
                                                  Catch::Matchers::Contains("refused"));
  CHECK(hub.log().empty());  // not even the revision API
  CHECK_FALSE(fs::exists(tmp.file("hf/hub/models--runwayml--stable-diffusion-v1-5")));
}

TEST_CASE("`sd-worker node --model org/name` downloads its model and serves its stages", "[hub][distributed]") {
  FakeHub hub;
  const FakeRepo repo = make_repo("node", fixture_with_extras());
  hub.add("rbee-test/tiny-sd15", repo);
  test::TempDir tmp;
  const test::EnvVars env = {{"HF_HOME", tmp.file("hf")}, {"HF_ENDPOINT", hub.endpoint()}};
  test::NodeProcess node({"--model", "rbee-test/tiny-sd15", "--stages", "denoiser", "--insecure-plaintext"},
                         std::chrono::seconds(120), "0", env, kHfEnv);
  INFO(node.banner());
  CHECK(read_file(tmp.file("hf/hub/models--rbee-test--tiny-sd15/refs/main")) == repo.commit);
  // The downloaded snapshot is the fixture's model: a front on the fixture's folder accepts the
  // node (same fingerprint) and its image is the single process's.
  const auto args = [&](std::vector<std::string> more) {
    std::vector<std::string> a = {SDW_WORKER_BINARY, "generate", "--model", test::fixture("pipelines/tiny-sd15"),
                                  "--prompt", "a red cube", "--width", "32", "--height", "32", "--steps", "3",
                                  "--seed", "4"};
    a.insert(a.end(), more.begin(), more.end());
    return a;
  };
  const test::ProcessResult local = test::run_process(args({"--output", tmp.file("local.png")}));
  REQUIRE(local.exit_code == 0);
  const test::ProcessResult remote = test::run_process(
      args({"--output", tmp.file("remote.png"), "--stage", "denoiser=" + node.address(), "--insecure-plaintext"}));
  INFO(remote.output());
  REQUIRE(remote.exit_code == 0);
  CHECK_THAT(remote.out, Catch::Matchers::Contains("stage denoiser: node " + node.address() + " up, 1 request(s)"));
  CHECK(read_file(tmp.file("remote.png")) == read_file(tmp.file("local.png")));
}
