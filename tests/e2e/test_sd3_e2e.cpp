// SD3 through the real `sd-worker generate` binary: every seeded case of tests/fixtures/sd3 (T5 or
// --no-t5, --max-sequence-length, img2img with --init-image / --strength, --num-images) gives the
// PNG diffusers' StableDiffusion3{,Img2Img}Pipeline gave, within one level (README M.6), and the
// requests SD3 refuses end with a clear message and a non-zero exit.
#include <catch.hpp>

#include <sstream>

#include "model/image/image_io.h"
#include "seeded_cases.h"
#include "test_util.h"

using namespace sdw;

namespace {

test::ProcessResult run_worker(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {SDW_WORKER_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::run_process(argv);
}

std::string number(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

}  // namespace

TEST_CASE("every SD3 seeded case through `sd-worker generate` gives diffusers' PNG", "[cli][parity][seeded][sd3]") {
  test::TempDir tmp;
  const auto cases = test::read_json(test::fixture("sd3/cases.json"));
  for (const auto& c : cases["cases"]) {
    const std::string id = c["id"];
    INFO("case " << id);
    std::vector<std::string> args = {"generate", "--model", test::fixture("pipelines/tiny-sd3"), "--prompt", c["prompt"],
                                     "--width", std::to_string(c["width"].get<int>()), "--height",
                                     std::to_string(c["height"].get<int>()), "--steps", std::to_string(c["steps"].get<int>()),
                                     "--guidance", number(c["guidance"].get<double>()), "--seed",
                                     std::to_string(c["seed"].get<uint64_t>()), "--num-images",
                                     std::to_string(c["num_images"].get<int>()), "--max-sequence-length",
                                     std::to_string(c["max_sequence_length"].get<int>()), "--output", tmp.file(id + ".png")};
    if (!c["negative_prompt"].is_null()) args.insert(args.end(), {"--negative-prompt", c["negative_prompt"]});
    if (!c["t5"].get<bool>()) args.push_back("--no-t5");
    if (c["init_image"].is_string())
      args.insert(args.end(), {"--init-image", test::fixture("sd3/" + c["init_image"].get<std::string>()), "--strength",
                               number(c["strength"].get<double>())});
    const test::ProcessResult r = run_worker(args);
    INFO(r.output());
    REQUIRE(r.exit_code == 0);
    const auto& expected = c["expected"];
    for (size_t k = 0; k < expected.size(); ++k) {
      const std::string out = expected.size() == 1 ? tmp.file(id + ".png") : tmp.file(id + "-" + std::to_string(k) + ".png");
      const int diff = test::max_pixel_diff(load_image(out), load_image(test::fixture("sd3/" + expected[k]["png"].get<std::string>())));
      CHECK(diff <= 1);
    }
  }
}

TEST_CASE("SD3 refusals through `sd-worker generate` name the problem", "[cli][sd3]") {
  test::TempDir tmp;
  const std::string model = test::fixture("pipelines/tiny-sd3");
  auto refused = [&](std::vector<std::string> extra, const std::string& needle) {
    std::vector<std::string> args = {"generate", "--model", model, "--prompt", "a fox", "--steps", "1", "--output", tmp.file("x.png")};
    args.insert(args.end(), extra.begin(), extra.end());
    const test::ProcessResult r = run_worker(args);
    INFO(r.output());
    CHECK(r.exit_code != 0);
    CHECK(r.output().find(needle) != std::string::npos);
  };
  refused({"--scheduler", "euler_a"}, "FlowMatchEulerDiscreteScheduler");
  refused({"--init-image", test::fixture("sd3/init_64x64.png"), "--mask-image", test::fixture("sd3/init_64x64.png")},
          "inpainting");
}
