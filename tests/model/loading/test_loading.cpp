// Loading a diffusers folder by name: strictness (missing / unexpected / mis-shaped tensors are
// errors naming the tensor), fp16/bf16 stored weights into fp32 models, `.fp16` variants,
// sharded weights, and the refusal of pickle-only folders.
#include <catch.hpp>

#include <ATen/core/grad_mode.h>

#include <filesystem>
#include <fstream>

#include "model/loading/diffusers_folder.h"
#include "test_util.h"

using namespace sdw;
namespace fs = std::filesystem;

namespace {

const std::string kUnetDir = "pipelines/tiny-sd15/unet";

// A copy of the tiny-sd15 UNet folder with its tensors transformed by `edit`.
std::string make_unet_copy(const test::TempDir& dir, const std::function<void(std::map<std::string, at::Tensor>&)>& edit,
                           const std::string& file = "diffusion_pytorch_model.safetensors") {
  const std::string out = dir.file("unet");
  fs::create_directories(out);
  fs::copy_file(test::fixture(kUnetDir + "/config.json"), out + "/config.json", fs::copy_options::overwrite_existing);
  auto tensors = SafetensorsFile::open(test::fixture(kUnetDir + "/diffusion_pytorch_model.safetensors")).tensors();
  edit(tensors);
  save_safetensors(out + "/" + file, tensors);
  return out;
}

std::string load_error(const std::string& dir) {
  try {
    load_unet(dir, at::kFloat);
  } catch (const LoadError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a missing tensor is an error naming it", "[loading]") {
  test::TempDir tmp;
  auto dir = make_unet_copy(tmp, [](auto& t) { t.erase("mid_block.resnets.1.conv2.weight"); });
  const std::string msg = load_error(dir);
  REQUIRE_THAT(msg, Catch::Matchers::Contains("missing tensor 'mid_block.resnets.1.conv2.weight'"));
  REQUIRE_THAT(msg, Catch::Matchers::Contains("[64, 64, 3, 3]"));
}

TEST_CASE("an unexpected tensor is an error naming it", "[loading]") {
  test::TempDir tmp;
  auto dir = make_unet_copy(tmp, [](auto& t) { t["down_blocks.9.bogus.weight"] = at::zeros({3}); });
  REQUIRE_THAT(load_error(dir), Catch::Matchers::Contains("unexpected tensor 'down_blocks.9.bogus.weight'"));
}

TEST_CASE("a wrongly shaped tensor is an error naming both shapes", "[loading]") {
  test::TempDir tmp;
  auto dir = make_unet_copy(tmp, [](auto& t) { t["conv_in.weight"] = at::zeros({32, 4, 1, 1}); });
  const std::string msg = load_error(dir);
  REQUIRE_THAT(msg, Catch::Matchers::Contains("'conv_in.weight' has shape [32, 4, 1, 1] but the model needs [32, 4, 3, 3]"));
}

TEST_CASE("fp16 and bf16 stored weights load into an fp32 model", "[loading]") {
  at::NoGradGuard no_grad;
  auto ref = SafetensorsFile::open(test::fixture("references/tiny-sd15.safetensors"));
  for (auto dtype : {at::kHalf, at::kBFloat16}) {
    test::TempDir tmp;
    // Saved as the `fp16` variant next to nothing else: variant lookup must find it.
    auto dir = make_unet_copy(
        tmp, [dtype](auto& t) { for (auto& kv : t) kv.second = kv.second.to(dtype); },
        "diffusion_pytorch_model.fp16.safetensors");
    auto unet = load_unet(dir, at::kFloat, "fp16");
    REQUIRE(unet->conv_in->weight.scalar_type() == at::kFloat);
    at::Tensor out = unet->forward(ref.get("unet.sample"), ref.get("unet.timesteps_int"), ref.get("unet.encoder_hidden_states"));
    auto d = test::compare(out, ref.get("unet.out_int"));
    INFO(test::describe("unet with rounded weights", d));
    // Rounding the weights to 16 bits moves the output a little, but not far.
    CHECK(d.max_abs > 0);
    CHECK(d.max_abs < (dtype == at::kHalf ? 0.01 : 0.1));
  }
}

TEST_CASE("the variant file is preferred and the plain file is the fallback", "[loading]") {
  test::TempDir tmp;
  auto dir = make_unet_copy(tmp, [](auto&) {});
  REQUIRE(find_weight_files(dir, "fp16") == std::vector<std::string>{dir + "/diffusion_pytorch_model.safetensors"});
  fs::copy_file(dir + "/diffusion_pytorch_model.safetensors", dir + "/diffusion_pytorch_model.fp16.safetensors");
  REQUIRE(find_weight_files(dir, "fp16") == std::vector<std::string>{dir + "/diffusion_pytorch_model.fp16.safetensors"});
  REQUIRE(find_weight_files(dir) == std::vector<std::string>{dir + "/diffusion_pytorch_model.safetensors"});
}

TEST_CASE("sharded weights with an index load", "[loading]") {
  at::NoGradGuard no_grad;
  test::TempDir tmp;
  const std::string dir = tmp.file("unet");
  fs::create_directories(dir);
  fs::copy_file(test::fixture(kUnetDir + "/config.json"), dir + "/config.json");
  auto tensors = SafetensorsFile::open(test::fixture(kUnetDir + "/diffusion_pytorch_model.safetensors")).tensors();
  std::map<std::string, at::Tensor> a, b;
  nlohmann::json index = {{"metadata", nlohmann::json::object()}, {"weight_map", nlohmann::json::object()}};
  size_t i = 0;
  for (auto& kv : tensors) {
    const bool first = (i++ % 2) == 0;
    (first ? a : b)[kv.first] = kv.second;
    index["weight_map"][kv.first] = first ? "diffusion_pytorch_model-00001-of-00002.safetensors"
                                          : "diffusion_pytorch_model-00002-of-00002.safetensors";
  }
  save_safetensors(dir + "/diffusion_pytorch_model-00001-of-00002.safetensors", a);
  save_safetensors(dir + "/diffusion_pytorch_model-00002-of-00002.safetensors", b);
  std::ofstream(dir + "/diffusion_pytorch_model.safetensors.index.json") << index.dump();
  auto unet = load_unet(dir, at::kFloat);
  auto ref = SafetensorsFile::open(test::fixture("references/tiny-sd15.safetensors"));
  at::Tensor out = unet->forward(ref.get("unet.sample"), ref.get("unet.timesteps_int"), ref.get("unet.encoder_hidden_states"));
  REQUIRE(test::compare(out, ref.get("unet.out_int")).max_abs < 1e-5);
}

TEST_CASE("pickle-only and empty folders are refused with a reason", "[loading]") {
  test::TempDir tmp;
  fs::create_directories(tmp.file("unet"));
  std::ofstream(tmp.file("unet/config.json")) << "{}";
  REQUIRE_THAT(load_error(tmp.file("unet")), Catch::Matchers::Contains("no weights"));
  std::ofstream(tmp.file("unet/diffusion_pytorch_model.bin")) << "pickle";
  REQUIRE_THAT(load_error(tmp.file("unet")), Catch::Matchers::Contains("can run code"));
  REQUIRE_THROWS_AS(DiffusersFolder::open(tmp.path()), LoadError);
}

TEST_CASE("a diffusers folder names its components", "[loading]") {
  auto f = DiffusersFolder::open(test::fixture("pipelines/tiny-sd15"));
  REQUIRE(f.pipeline_class == "StableDiffusionPipeline");
  REQUIRE(f.has("unet"));
  REQUIRE(f.has("vae"));
  REQUIRE(f.has("text_encoder"));
  REQUIRE_FALSE(f.has("safety_checker"));
}
