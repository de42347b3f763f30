// Single-file ControlNets (model/loading/controlnet_single_file.h): the tiny fixture ControlNet
// (tests/fixtures/controlnet/tiny-controlnet-sd15) and the tiny SDXL one (tests/tiny_controlnet_sdxl.h)
// written here in lllyasviel's ControlLDM layout (with and without `control_model.`) and as a
// diffusers-named file without config.json. The ControlLDM names come from the test's own table
// (tests/controlnet_ldm_file.h), written independently of the loader's rules. Every tensor the single file loads must equal the
// folder's, the inferred config must be the folder's, and cn_default from the single file must still
// give diffusers' PNG (max pixel difference <= 1). Pickle files and non-ControlNet files are refused.
#include <catch.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "model/image/image_io.h"
#include "model/loading/controlnet_folder.h"
#include "model/loading/controlnet_single_file.h"
#include "model/loading/diffusers_folder.h"
#include "model/loading/state_dict.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/stages.h"
#include "model/safetensors/safetensors.h"
#include "controlnet_ldm_file.h"
#include "seeded_cases.h"
#include "test_util.h"
#include "tiny_controlnet_sdxl.h"

using namespace sdw;

namespace {

void check_same_tensors(const ControlNetModel& a, const ControlNetModel& b) {
  const auto pa = a->named_parameters(), pb = b->named_parameters();
  REQUIRE(pa.size() == pb.size());
  REQUIRE(pa.size() > 50);
  size_t equal = 0;
  for (const auto& item : pa) {
    const at::Tensor* other = pb.find(item.key());
    INFO(item.key());
    REQUIRE(other != nullptr);
    if (at::equal(item.value(), *other)) ++equal;
  }
  CHECK(equal == pa.size());
}

void check_same_config(const ControlNetConfig& a, const ControlNetConfig& b) {
  CHECK(a.unet.in_channels == b.unet.in_channels);
  CHECK(a.unet.block_out_channels == b.unet.block_out_channels);
  CHECK(a.unet.down_block_types == b.unet.down_block_types);
  CHECK(a.unet.layers_per_block == b.unet.layers_per_block);
  CHECK(a.unet.transformer_layers_per_block == b.unet.transformer_layers_per_block);
  CHECK(a.unet.num_attention_heads == b.unet.num_attention_heads);
  CHECK(a.unet.cross_attention_dim == b.unet.cross_attention_dim);
  CHECK(a.unet.use_linear_projection == b.unet.use_linear_projection);
  CHECK(a.unet.norm_num_groups == b.unet.norm_num_groups);
  CHECK(a.unet.addition_embed_type == b.unet.addition_embed_type);
  CHECK(a.unet.addition_time_embed_dim == b.unet.addition_time_embed_dim);
  CHECK(a.unet.projection_class_embeddings_input_dim == b.unet.projection_class_embeddings_input_dim);
  CHECK(a.conditioning_channels == b.conditioning_channels);
  CHECK(a.conditioning_embedding_out_channels == b.conditioning_embedding_out_channels);
}

std::shared_ptr<SdModel> tiny(const std::string& name) {
  return load_diffusers_model(test::fixture("pipelines/" + name), ModelLoadOptions{});
}

GenerationRequest cn_default(const std::string& controlnet) {
  const nlohmann::json cases = test::read_json(test::fixture("controlnet/cases.json"))["cases"];
  for (const auto& c : cases) {
    if (c["id"] != "cn_default") continue;
    GenerationRequest req;
    req.prompt = c["prompt"];
    req.negative_prompt = c["negative_prompt"].get<std::string>();
    req.width = c["width"];
    req.height = c["height"];
    req.steps = c["steps"];
    req.guidance = c["guidance"].get<double>();
    req.seed = c["seed"].get<uint64_t>();
    ControlNetUse use;
    use.path = controlnet;
    use.image = load_image(test::fixture("controlnet/" + c["control_image"].get<std::string>()));
    req.controlnets.push_back(use);
    return req;
  }
  FAIL("no cn_default case");
  return {};
}

}  // namespace

TEST_CASE("an A1111 / lllyasviel single-file ControlNet loads the folder's tensors and config", "[controlnet][single_file]") {
  test::TempDir tmp;
  auto model = tiny("tiny-sd15");
  const std::string folder = test::fixture("controlnet/tiny-controlnet-sd15");
  const ControlNetModel reference = load_controlnet(folder, at::TensorOptions());
  for (const std::string prefix : {"control_model.", ""}) {
    INFO("prefix '" << prefix << "'");
    const std::string file = test::write_controlnet_ldm(tmp, folder, "control_v11p_tiny" + std::to_string(prefix.size()) + ".safetensors", prefix, false);
    CHECK(is_controlnet_file(file));
    CHECK(is_controlnet_path(file));
    check_same_config(read_controlnet_config(file, &model->unet->config()), reference->config());
    check_same_tensors(load_controlnet(file, at::TensorOptions(), "", &model->unet->config()), reference);
  }
  // Without the model's UNet the shapes still give the encoder; lllyasviel's SD1.5 heads apply.
  const ControlNetConfig alone = read_controlnet_config(tmp.file("control_v11p_tiny14.safetensors"));
  CHECK(alone.unet.block_out_channels == std::vector<int64_t>{32, 64});
  CHECK(alone.cond_downscale() == 2);
  CHECK(controlnet_name(tmp.file("control_v11p_tiny14.safetensors")) == "control_v11p_tiny14");

  // A ControlLDM tensor no rule converts is named in the error.
  auto tensors = SafetensorsFile::open(tmp.file("control_v11p_tiny14.safetensors")).tensors();
  tensors["control_model.zero_convs.0.1.weight"] = at::zeros({1});
  save_safetensors(tmp.file("extra.safetensors"), tensors);
  try {
    load_controlnet(tmp.file("extra.safetensors"), at::TensorOptions(), "", &model->unet->config());
    FAIL("loaded");
  } catch (const LoadError& e) {
    CHECK_THAT(e.what(), Catch::Matchers::Contains("control_model.zero_convs.0.1.weight"));
  }
}

TEST_CASE("cn_default from the single file gives diffusers' image", "[controlnet][single_file][parity]") {
  test::TempDir tmp;
  auto model = tiny("tiny-sd15");
  const std::string file = test::write_controlnet_ldm(tmp, test::fixture("controlnet/tiny-controlnet-sd15"), "control_tiny.safetensors",
                                     "control_model.", false);
  const GenerationResult out = generate(*model, cn_default(file));
  REQUIRE(out.images.size() == 1);
  const int diff = test::max_pixel_diff(out.images[0], load_image(test::fixture("controlnet/cn_default.png")));
  std::cout << "cn_default from a ControlLDM single file: max pixel diff " << diff << "\n";
  CHECK(diff <= 1);
}

TEST_CASE("SDXL single-file ControlNets: diffusers names without config.json, and the SGM layout", "[controlnet][single_file][sdxl]") {
  test::TempDir tmp;
  auto model = tiny("tiny-sdxl");
  test::TinySdxlControlNetOptions o;
  o.zero_convs = "random";
  o.random_cond_out = true;
  const std::string folder = test::make_tiny_sdxl_controlnet(tmp, "cn-xl", o);
  const ControlNetModel reference = load_controlnet(folder, at::TensorOptions());
  std::filesystem::copy_file(folder + "/diffusion_pytorch_model.safetensors", tmp.file("controlnet-tiny-sdxl.safetensors"));
  const std::string ldm = test::write_controlnet_ldm(tmp, folder, "control_sgm_tiny.safetensors", "control_model.", true);
  for (const std::string& file : {tmp.file("controlnet-tiny-sdxl.safetensors"), ldm}) {
    INFO(file);
    const ControlNetConfig c = read_controlnet_config(file, &model->unet->config());
    check_same_config(c, reference->config());
    CHECK(c.unet.addition_embed_type == "text_time");
    check_same_tensors(load_controlnet(file, at::TensorOptions(), "", &model->unet->config()), reference);
  }
  // Through a request: the single file runs on SDXL and is refused on SD1.5.
  GenerationRequest r;
  r.prompt = "a house";
  r.width = r.height = 32;
  r.steps = 2;
  r.seed = 1;
  ControlNetUse use;
  use.path = ldm;
  use.image = load_image(test::fixture("controlnet/control_64x64.png"));
  r.controlnets.push_back(use);
  CHECK(generate(*model, r).images.size() == 1);
  auto sd15 = tiny("tiny-sd15");
  r.width = r.height = 64;
  CHECK_THROWS_WITH(resolve_request(*sd15, r), Catch::Matchers::Contains("another model family"));
}

TEST_CASE("pickle ControlNets and files that are not ControlNets are refused", "[controlnet][single_file]") {
  test::TempDir tmp;
  for (const char* name : {"control_v11p_sd15_canny.pth", "control.ckpt"}) {
    std::ofstream(tmp.file(name), std::ios::binary) << std::string("\x80\x02}q\x00.", 6);
    CHECK(!is_controlnet_file(tmp.file(name)));
    CHECK_THROWS_WITH(read_controlnet_config(tmp.file(name)), Catch::Matchers::Contains("pickle"));
  }
  const std::string unet = test::fixture("pipelines/tiny-sd15/unet/diffusion_pytorch_model.safetensors");
  CHECK(!is_controlnet_file(unet));
  CHECK_THROWS_WITH(read_controlnet_config(unet), Catch::Matchers::Contains("not a ControlNet"));
}
