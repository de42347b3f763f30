// SD3 Medium's full-size components (tests/fixtures/manifests/stabilityai--stable-diffusion-3-
// medium-diffusers, README section M.8) built on the meta device from the released configs: the
// MMDiT, the 16-channel VAE, CLIP-L and CLIP-G with projections and the T5-XXL encoder have
// exactly diffusers'/transformers' state_dict keys and shapes, and the released parameter counts
// (T5's tied embedding counted once). No weights are allocated.
#include <catch.hpp>

#include <iostream>
#include <map>
#include <set>

#include "model/loading/diffusers_folder.h"
#include "model/loading/state_dict.h"
#include "model/pipeline/sd3_components.h"
#include "test_util.h"

using namespace sdw;

namespace {

const at::TensorOptions kMeta = at::TensorOptions().dtype(at::kFloat).device(at::kMeta);
const std::string kRoot = "manifests/stabilityai--stable-diffusion-3-medium-diffusers/";

nlohmann::json config_of(const std::string& component) {
  return read_json_file(test::fixture(kRoot + component + "/config.json"));
}

// Keys and shapes (buffers included: the MMDiT's pos_embed) equal the manifest's; parameters
// (not buffers, as diffusers counts them) summed once per distinct tensor.
void compare_with_manifest(const torch::nn::Module& module, const std::string& component) {
  const nlohmann::json manifest = read_json_file(test::fixture(kRoot + component + "/state_dict_keys.json"));
  std::map<std::string, std::vector<int64_t>> expected, actual;
  for (const auto& kv : manifest["keys"].items()) expected[kv.key()] = kv.value()["shape"].get<std::vector<int64_t>>();
  for (const auto& [name, shape] : module_tensor_shapes(module)) actual[name] = shape;
  int64_t params = 0;
  std::set<const void*> seen;
  for (const auto& p : module.parameters())
    if (seen.insert(p.unsafeGetTensorImpl()).second) params += p.numel();
  INFO(component);
  CHECK(actual == expected);
  CHECK(actual.size() == manifest["num_keys"].get<size_t>());
  CHECK(params == manifest["num_parameters"].get<int64_t>());
  std::cout << "sd3-medium " << component << ": " << actual.size() << " keys, " << params << " parameters\n";
}

}  // namespace

TEST_CASE("SD3 Medium's MMDiT has diffusers' names and shapes", "[parity][manifest][sd3]") {
  SD3Transformer2DModel model(SD3Transformer2DConfig::from_json(config_of("transformer")), kMeta);
  compare_with_manifest(*model, "transformer");
}

TEST_CASE("SD3 Medium's VAE, CLIP-L, CLIP-G and T5-XXL have the released names and shapes", "[parity][manifest][sd3]") {
  AutoencoderKL vae(AutoencoderKLConfig::from_json(config_of("vae")), kMeta);
  CHECK(vae->config().latent_channels == 16);
  CHECK(vae->config().shift_factor.value_or(0) == 0.0609);
  compare_with_manifest(*vae, "vae");
  for (const std::string te : {"text_encoder", "text_encoder_2"}) {
    CLIPTextModel model(CLIPTextConfig::from_json(config_of(te)), kMeta);
    CHECK(model->config().with_projection);
    compare_with_manifest(*model, te);
  }
  T5EncoderModel t5(T5Config::from_json(config_of("text_encoder_3")), kMeta);
  compare_with_manifest(*t5, "text_encoder_3");
  // The files hold every key but the tied encoder.embed_tokens.weight.
  const nlohmann::json manifest = read_json_file(test::fixture(kRoot + "text_encoder_3/state_dict_keys.json"));
  const auto file_keys = manifest["file_keys"].get<std::vector<std::string>>();
  CHECK(std::find(file_keys.begin(), file_keys.end(), "encoder.embed_tokens.weight") == file_keys.end());
  CHECK(std::find(file_keys.begin(), file_keys.end(), "shared.weight") != file_keys.end());
}
