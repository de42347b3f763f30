// End to end: the real `sd-worker generate` on the fixtures' tiny single-file checkpoints
// (--model <file> --config <folder>) gives the seeded PNG diffusers gave, and --config / --vae
// misuse exits with code 2 and a clear message. The loader itself: tests/model/loading/test_single_file.cpp.
#include <catch.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "model/image/image_io.h"
#include "model/loading/single_file_test_util.h"
#include "seeded_cases.h"
#include "test_util.h"

using namespace sdw;
using namespace sdw::test::single_file_util;
namespace fs = std::filesystem;

namespace {

struct RunResult {
  int exit_code = -1;
  std::string output;
};

// The sd-worker binary of this build (SDW_WORKER_BINARY, from tests/CMakeLists.txt).
RunResult run_worker(const std::vector<std::string>& args) {
  const std::string bin = SDW_WORKER_BINARY;
  INFO("sd-worker binary: " << bin << " (build the sd-worker target first)");
  REQUIRE(fs::is_regular_file(bin));
  std::vector<std::string> argv = {bin};
  argv.insert(argv.end(), args.begin(), args.end());
  const test::ProcessResult p = test::run_process(argv);
  return {p.exit_code, p.output()};
}

}  // namespace

TEST_CASE("`sd-worker generate --model <file> --config <folder>` gives diffusers' PNG", "[single_file][cli][seeded]") {
  test::TempDir tmp;
  const auto c = seeded_case("sd21v_default");  // v-prediction: taken from --config's scheduler config
  const std::string out = tmp.file("out.png");
  RunResult r = run_worker({"generate", "--model", single_file("tiny-sd21v"), "--config", folder("tiny-sd21v"), "--prompt",
                            c["prompt"], "--negative-prompt", c["negative_prompt"], "--width", "64", "--height", "64",
                            "--steps", std::to_string(c["steps"].get<int>()), "--guidance",
                            std::to_string(c["guidance"].get<double>()), "--seed",
                            std::to_string(c["seed"].get<uint64_t>()), "--output", out});
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  std::ifstream in(out, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const int diff = test::max_pixel_diff(decode_image(ss.str()),
                                  load_image(test::fixture("seeded/" + c["expected"][0]["png"].get<std::string>())));
  std::cout << "sd21v_default via sd-worker generate (single file): max pixel diff " << diff << "\n";
  CHECK(diff <= 1);

  // Without --config the tiny file is of no known family; --config/--vae need a single file.
  r = run_worker({"generate", "--model", single_file("tiny-sd15"), "--prompt", "x", "--output", tmp.file("a.png")});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Matchers::Contains("unrecognised model family") && Catch::Matchers::Contains("--config"));
  r = run_worker({"generate", "--model", folder("tiny-sd15"), "--vae", single_file("tiny-sd15"), "--prompt", "x",
                  "--output", tmp.file("b.png")});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Matchers::Contains("single-file"));
  r = run_worker({"generate", "--model", single_file("tiny-sd15"), "--config", tmp.path(), "--prompt", "x", "--output",
                  tmp.file("c.png")});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Matchers::Contains("unet/config.json"));
}
