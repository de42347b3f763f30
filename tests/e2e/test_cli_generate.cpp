// `sd-worker generate` as a user runs it: the real binary in a child process. Every seeded case of
// tests/fixtures/seeded/cases.json gives the PNG diffusers gave (max pixel difference 1), the PNG
// carries the A1111 parameters chunk, the demo model works with no files, and bad input gives a
// clear message and a non-zero exit. `sd-worker bench` prints its whole table (a smoke run, no
// timing asserted) and uses the CPU thread count it says.
#include <catch.hpp>

#ifdef __linux__
#include <sched.h>
#endif
#include <torch/version.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "model/image/image_io.h"
#include "model/loading/diffusers_folder.h"
#include "seeded_cases.h"
#include "test_util.h"

using namespace sdw;

namespace {

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout + stderr
};

RunResult run_worker(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {SDW_WORKER_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  const test::ProcessResult p = test::run_process(argv);
  return {p.exit_code, p.output()};
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}


}  // namespace

TEST_CASE("every seeded case through `sd-worker generate` gives diffusers' PNG", "[cli][parity][seeded]") {
  test::TempDir tmp;
  const auto cases = test::read_json(test::fixture("seeded/cases.json"));
  for (const auto& c : cases["cases"]) {
    const std::string id = c["id"];
    std::vector<std::string> args = {"generate", "--model", test::fixture("pipelines/" + c["pipeline"].get<std::string>()),
                                     "--prompt", c["prompt"], "--width", std::to_string(c["width"].get<int>()),
                                     "--height", std::to_string(c["height"].get<int>()), "--steps",
                                     std::to_string(c["steps"].get<int>()), "--guidance",
                                     std::to_string(c["guidance"].get<double>()), "--seed",
                                     std::to_string(c["seed"].get<uint64_t>()), "--num-images",
                                     std::to_string(c["num_images"].get<int>()), "--clip-skip",
                                     std::to_string(c["clip_skip"].get<int>()), "--output", tmp.file(id + ".png")};
    if (!c["negative_prompt"].is_null()) args.insert(args.end(), {"--negative-prompt", c["negative_prompt"]});
    if (!c["scheduler"].is_null()) args.insert(args.end(), {"--scheduler", c["scheduler"]});
    if (!c["init_image"].is_null())
      args.insert(args.end(), {"--init-image", test::fixture("seeded/" + c["init_image"].get<std::string>()), "--strength",
                               std::to_string(c["strength"].get<double>())});
    if (!c["mask_image"].is_null())
      args.insert(args.end(), {"--mask-image", test::fixture("seeded/" + c["mask_image"].get<std::string>())});
    RunResult r = run_worker(args);
    INFO(id << ": " << r.output);
    REQUIRE(r.exit_code == 0);
    REQUIRE_THAT(r.output, Catch::Matchers::Contains("seed: " + std::to_string(c["seed"].get<uint64_t>())));
    const size_t n = c["expected"].size();
    for (size_t k = 0; k < n; ++k) {
      const std::string out = n == 1 ? tmp.file(id + ".png") : tmp.file(id + "-" + std::to_string(k) + ".png");
      const std::string bytes = read_file(out);
      Image got = decode_image(bytes);
      Image expected = load_image(test::fixture("seeded/" + c["expected"][k]["png"].get<std::string>()));
      CHECK(test::max_pixel_diff(got, expected) <= 1);
      // The A1111 parameters chunk names prompt, steps, seed and size.
      auto chunks = png_text_chunks(bytes);
      REQUIRE(chunks.size() == 1);
      REQUIRE(chunks[0].first == "parameters");
      CHECK_THAT(chunks[0].second, Catch::Matchers::Contains("Seed: " + std::to_string(c["seed"].get<uint64_t>())));
      CHECK_THAT(chunks[0].second, Catch::Matchers::Contains("Steps: " + std::to_string(c["steps"].get<int>())));
    }
  }
}

TEST_CASE("the demo model needs no files and repeats itself for a seed", "[cli]") {
  test::TempDir tmp;
  RunResult a = run_worker({"generate", "--prompt", "a lighthouse", "--seed", "7", "--steps", "2", "--width", "64",
                            "--height", "64", "--output", tmp.file("a.png")});
  INFO(a.output);
  REQUIRE(a.exit_code == 0);
  REQUIRE_THAT(a.output, Catch::Matchers::Contains("seed: 7"));
  REQUIRE_THAT(a.output, Catch::Matchers::Contains("timings:"));
  RunResult b = run_worker({"generate", "--model", "demo", "--prompt", "a lighthouse", "--seed", "7", "--steps", "2",
                            "--width", "64", "--height", "64", "--output", tmp.file("b.png")});
  REQUIRE(b.exit_code == 0);
  Image ia = decode_image(read_file(tmp.file("a.png")));
  REQUIRE(ia.width == 64);
  REQUIRE(ia.pixels == decode_image(read_file(tmp.file("b.png"))).pixels);
}

TEST_CASE("bad command lines give a clear message and a non-zero exit", "[cli]") {
  test::TempDir tmp;
  struct Case {
    std::vector<std::string> args;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {{"generate"}, "--prompt"},
      {{"generate", "--prompt", "x", "--steps", "0"}, "steps"},
      {{"generate", "--prompt", "x", "--width", "100"}, "multiple of 8"},
      {{"generate", "--prompt", "x", "--scheduler", "warp"}, "scheduler"},
      {{"generate", "--prompt", "x", "--model", "/nonexistent/model"}, "not found"},
      {{"generate", "--prompt", "x", "--device", "cuda:0"}, "cuda"},
      {{"generate", "--prompt", "x", "--dtype", "fp8"}, "dtype"},
      {{"generate", "--prompt", "x", "--offload", "model"}, "on the CPU they are in host memory already"},
      {{"generate", "--prompt", "x", "--offload", "everything"}, "--offload"},
      {{"serve", "--offload", "sequential", "--port", "0"}, "on the CPU they are in host memory already"},
      {{"serve", "--dtype", "fp8", "--port", "0"}, "--dtype fp8 needs"},
      {{"serve", "--dtype", "fp4", "--port", "0"}, "fp4"},
      {{"generate", "--prompt", "x", "--output", tmp.file("x.gif")}, ".png"},
      {{"generate", "--prompt", "x", "--mask-image", test::fixture("seeded/mask_64x64.png")}, "--init-image"},
      {{"generate", "--prompt", "x", "--init-image", tmp.path()}, "init-image"},
      {{"generate", "--prompt", "x", "--bogus"}, "bogus"},
      {{"frobnicate"}, "unknown command"},
  };
  for (const auto& c : cases) {
    RunResult r = run_worker(c.args);
    INFO(c.args.back() << " -> " << r.output);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.output, Catch::Matchers::Contains(c.needle));
  }
  std::ofstream(tmp.file("model.ckpt")) << "pickle";
  RunResult r = run_worker({"generate", "--prompt", "x", "--model", tmp.file("model.ckpt")});
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Catch::Matchers::Contains("arbitrary code"));
  std::ofstream(tmp.file("broken.png")) << "\x89PNG\r\n\x1a\nnot really";
  r = run_worker({"generate", "--prompt", "x", "--init-image", tmp.file("broken.png")});
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Catch::Matchers::Contains("bad image"));
}

TEST_CASE("--build-info prints release or debug", "[cli]") {
  RunResult r = run_worker({"--build-info"});
  REQUIRE(r.exit_code == 0);
  REQUIRE((r.output == "release\n" || r.output == "debug\n"));
}

TEST_CASE("bench prints its table; CPU threads come from SDW_CPU_THREADS, the model's size, the affinity mask", "[cli]") {
  const std::vector<std::string> args = {SDW_WORKER_BINARY, "bench", "--arch", "demo", "--steps", "1",
                                         "--warmup", "0", "--runs", "1", "--dtype", "bf16"};
  const test::ProcessResult two = test::run_process(args, {{"SDW_CPU_THREADS", "2"}}, {"OMP_NUM_THREADS"});
  INFO(two.output());
  REQUIRE(two.exit_code == 0);
  CHECK_THAT(two.out, Catch::Contains(", 2 CPU threads"));
  for (const char* row : {"| text encoder (+negative)", "| UNet step", "| denoise loop", "| VAE decode",
                          "| PNG encode", "| end to end (to PNG bytes)", "steps/s:", "images/s:", "peak memory:"})
    CHECK_THAT(two.out, Catch::Contains(row));
  // bf16 on the CPU: fp32 activations where oneDNN has bf16 kernels, bf16 otherwise; never fp16.
  CHECK_THAT(two.out, Catch::Contains("activations Float") || Catch::Contains("activations BFloat16"));
  CHECK_THAT(two.out, Catch::Contains("UNet runner: eager (cpu)"));
  // Unset: one thread for the tiny demo model, every CPU of the affinity mask for any other.
  const std::vector<std::string> unset = {"OMP_NUM_THREADS", "SDW_CPU_THREADS"};
  const test::ProcessResult demo = test::run_process(args, {}, unset);
  REQUIRE(demo.exit_code == 0);
  CHECK_THAT(demo.out, Catch::Contains(", 1 CPU threads"));
  int cpus = static_cast<int>(std::thread::hardware_concurrency());
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(sched_getaffinity(0, sizeof(set), &set) == 0);
  cpus = CPU_COUNT(&set);
#endif
  test::TempDir tmp;
  const test::ProcessResult folder = test::run_process(
      {SDW_WORKER_BINARY, "generate", "--model", test::fixture("pipelines/tiny-sd15"), "--prompt", "x", "--steps", "1",
       "--output", tmp.file("x.png")},
      {}, unset);
  INFO(folder.output());
  REQUIRE(folder.exit_code == 0);
  CHECK_THAT(folder.out, Catch::Contains("device: cpu, fp32, " + std::to_string(cpus) + " CPU threads"));
}
