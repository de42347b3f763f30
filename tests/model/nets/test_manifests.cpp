// The module trees instantiate the full-size architectures of tests/fixtures/manifests (SD1.5,
// SD1.5 inpainting, SD2.1, SD-Turbo, SDXL) with exactly the tensor names and shapes diffusers'
// state_dict() has. Models are built on the meta device: no weights are allocated.
#include <catch.hpp>

#include <filesystem>
#include <iostream>
#include <set>

#include "model/nets/autoencoder_kl.h"
#include "model/nets/clip_text_model.h"
#include "model/loading/diffusers_folder.h"
#include "model/loading/state_dict.h"
#include "model/nets/unet_2d_condition.h"
#include "test_util.h"

using namespace sdw;

namespace {

const at::TensorOptions kMeta = at::TensorOptions().dtype(at::kFloat).device(at::kMeta);

void compare_with_manifest(const torch::nn::Module& module, const std::string& keys_json) {
  nlohmann::json manifest = read_json_file(keys_json);
  std::map<std::string, std::vector<int64_t>> expected;
  for (const auto& kv : manifest["keys"].items()) expected[kv.key()] = kv.value()["shape"].get<std::vector<int64_t>>();
  std::map<std::string, std::vector<int64_t>> actual;
  int64_t params = 0;
  for (const auto& [name, shape] : module_tensor_shapes(module)) {
    actual[name] = shape;
    int64_t n = 1;
    for (auto d : shape) n *= d;
    params += n;
  }
  std::vector<std::string> missing, extra, mismatched;
  for (const auto& kv : expected) {
    auto it = actual.find(kv.first);
    if (it == actual.end()) missing.push_back(kv.first);
    else if (it->second != kv.second) mismatched.push_back(kv.first);
  }
  for (const auto& kv : actual)
    if (!expected.count(kv.first)) extra.push_back(kv.first);
  INFO(keys_json);
  INFO("missing: " << missing.size() << (missing.empty() ? "" : " first " + missing[0]));
  INFO("extra: " << extra.size() << (extra.empty() ? "" : " first " + extra[0]));
  INFO("mismatched: " << mismatched.size() << (mismatched.empty() ? "" : " first " + mismatched[0]));
  CHECK(missing.empty());
  CHECK(extra.empty());
  CHECK(mismatched.empty());
  CHECK(actual.size() == manifest["num_keys"].get<size_t>());
  CHECK(params == manifest["num_parameters"].get<int64_t>());
  std::cout << keys_json.substr(keys_json.find("manifests/") + 10) << ": " << actual.size() << " keys, " << params
            << " parameters\n";
}

std::string manifest(const std::string& rel) { return test::fixture("manifests/" + rel); }

}  // namespace

TEST_CASE("full-size UNets have the diffusers names and shapes", "[parity][manifest]") {
  for (const std::string model : {"runwayml--stable-diffusion-v1-5", "runwayml--stable-diffusion-inpainting",
                                  "stabilityai--stable-diffusion-2-1", "stabilityai--sd-turbo",
                                  "stabilityai--stable-diffusion-xl-base-1.0"}) {
    auto config = UNet2DConditionConfig::from_json(read_json_file(manifest(model + "/unet/config.json")));
    UNet2DConditionModel unet(config, kMeta);
    compare_with_manifest(*unet, manifest(model + "/unet/state_dict_keys.json"));
  }
}

TEST_CASE("full-size VAEs have the diffusers names and shapes", "[parity][manifest]") {
  for (const std::string model : {"runwayml--stable-diffusion-v1-5", "stabilityai--stable-diffusion-2-1",
                                  "stabilityai--stable-diffusion-xl-base-1.0"}) {
    auto config = AutoencoderKLConfig::from_json(read_json_file(manifest(model + "/vae/config.json")));
    AutoencoderKL vae(config, kMeta);
    REQUIRE(config.scale_factor() == 8);
    compare_with_manifest(*vae, manifest(model + "/vae/state_dict_keys.json"));
  }
}

TEST_CASE("full-size text encoders have the transformers names and shapes", "[parity][manifest]") {
  for (const std::string rel : {"runwayml--stable-diffusion-v1-5/text_encoder", "stabilityai--stable-diffusion-2-1/text_encoder",
                                "stabilityai--stable-diffusion-xl-base-1.0/text_encoder",
                                "stabilityai--stable-diffusion-xl-base-1.0/text_encoder_2"}) {
    auto config = CLIPTextConfig::from_json(read_json_file(manifest(rel + "/config.json")));
    CLIPTextModel model(config, kMeta);
    compare_with_manifest(*model, manifest(rel + "/state_dict_keys.json"));
  }
}

TEST_CASE("SD-Turbo and SD2.1 UNets share one architecture", "[manifest]") {
  auto a = UNet2DConditionConfig::from_json(read_json_file(manifest("stabilityai--sd-turbo/unet/config.json")));
  auto b = UNet2DConditionConfig::from_json(read_json_file(manifest("stabilityai--stable-diffusion-2-1/unet/config.json")));
  UNet2DConditionModel ua(a, kMeta), ub(b, kMeta);
  REQUIRE(module_tensor_shapes(*ua) == module_tensor_shapes(*ub));
}
