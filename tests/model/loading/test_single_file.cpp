// Single-file checkpoints in the original LDM layout (model/loading/single_file*.h):
//  1. the name maps against the full-size manifests: every SD1.5 / SD2.1 / SDXL single-file name
//     converts to exactly the diffusers keys and shapes, and back;
//  2. the fixtures' tiny single files give the same tensors as their diffusers folders and, through
//     generate(), the seeded images diffusers gave (the real `sd-worker generate` binary on them:
//     tests/e2e/test_single_file_e2e.cpp);
//  3. family detection, the shipped configs, --vae in both namings, and clear errors for unknown,
//     missing and misshaped tensors and for unrecognised families.
#include <catch.hpp>

#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>

#include "model/image/image_io.h"
#include "model/loading/diffusers_folder.h"
#include "model/loading/single_file.h"
#include "model/loading/single_file_test_util.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/sd_model.h"
#include "seeded_cases.h"
#include "test_util.h"

using namespace sdw;
using namespace sdw::test::single_file_util;
namespace fs = std::filesystem;

namespace {

const char* const kTiny[] = {"tiny-sd15", "tiny-sd21v", "tiny-sd15-inpaint"};

using Shapes = std::map<std::string, std::vector<int64_t>>;

Shapes manifest_shapes(const nlohmann::json& keys) {
  Shapes out;
  for (const auto& kv : keys.items()) out[kv.key()] = kv.value()["shape"].get<std::vector<int64_t>>();
  return out;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  return os.str() + "]";
}

// Converts every name of a manifest's single_file_keys.json (plus `extra` names) and returns the
// diffusers shapes per component; `ignored` / `unknown` collect the other names.
std::map<SdComponent, Shapes> convert_names(const LdmKeyMap& map, const Shapes& names, std::vector<std::string>& ignored,
                                            std::vector<std::string>& unknown) {
  std::map<SdComponent, Shapes> out;
  for (const auto& kv : names) {
    const KeyConversion c = map.convert(kv.first);
    if (c.kind == KeyConversion::Kind::ignored) ignored.push_back(kv.first);
    if (c.kind == KeyConversion::Kind::unknown) unknown.push_back(kv.first);
    for (const auto& t : c.targets) {
      INFO(kv.first << " -> " << t.name);
      REQUIRE(out[t.component].emplace(t.name, converted_shape(t.transform, kv.second)).second);
    }
  }
  return out;
}

// The diffusers key set and shapes of `component` equal the manifest's state_dict_keys.json, and
// every diffusers key maps back to a stored name.
void check_component_keys(const std::string& manifest, SdComponent component, const Shapes& converted,
                          const LdmKeyMap& map, const Shapes& stored) {
  const std::string comp = component_name(component);
  const Shapes expected =
      manifest_shapes(test::read_json(test::fixture("manifests/" + manifest + "/" + comp + "/state_dict_keys.json"))["keys"]);
  INFO(manifest << " " << comp);
  size_t same = 0;
  for (const auto& kv : expected) {
    auto it = converted.find(kv.first);
    INFO("diffusers key " << kv.first << " " << shape_str(kv.second));
    REQUIRE(it != converted.end());
    REQUIRE(it->second == kv.second);
    const std::string back = map.ldm_name(component, kv.first);
    INFO("stored name " << back);
    REQUIRE(stored.count(back));
    ++same;
  }
  for (const auto& kv : converted) {
    INFO("converted key not in the diffusers model: " << kv.first);
    REQUIRE(expected.count(kv.first));
  }
  std::cout << manifest << " " << comp << ": " << same << " keys and shapes identical\n";
  CHECK(same == expected.size());
}

// A copy of a fixture single file with tensors changed.
std::string write_variant(const test::TempDir& tmp, const std::string& name, const std::string& source,
                          const std::function<void(std::map<std::string, at::Tensor>&)>& edit) {
  auto tensors = SafetensorsFile::open(source).tensors();
  std::map<std::string, at::Tensor> copy;
  for (const auto& kv : tensors) copy[kv.first] = kv.second.clone();
  edit(copy);
  const std::string path = tmp.file(name);
  save_safetensors(path, copy);
  return path;
}

// Number of tensors compared; every parameter of `a` equals the same-named one of `b` bit for bit.
size_t require_same_tensors(const torch::nn::Module& a, const torch::nn::Module& b, const std::string& what) {
  const auto pb = b.named_parameters(true);
  size_t n = 0;
  for (const auto& p : a.named_parameters(true)) {
    INFO(what << " " << p.key());
    const at::Tensor* other = pb.find(p.key());
    REQUIRE(other != nullptr);
    REQUIRE(at::equal(p.value(), *other));
    ++n;
  }
  REQUIRE(n == pb.size());
  return n;
}

std::map<std::string, at::Tensor> vae_tensors_of(const AutoencoderKL& vae) {
  std::map<std::string, at::Tensor> out;
  for (const auto& p : vae->named_parameters(true)) out[p.key()] = p.value();
  return out;
}

bool same_vae(const AutoencoderKL& vae, const std::map<std::string, at::Tensor>& expected) {
  const auto got = vae_tensors_of(vae);
  if (got.size() != expected.size()) return false;
  for (const auto& kv : expected) {
    auto it = got.find(kv.first);
    if (it == got.end() || !at::equal(it->second, kv.second.reshape(it->second.sizes()))) return false;
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// 1. Name maps against the full-size manifests

TEST_CASE("SD1.5 and SD2.1 single-file names convert to exactly the diffusers keys and shapes", "[single_file][keys]") {
  struct Manifest {
    std::string name;
    TextTower text;
  };
  for (const Manifest& m : {Manifest{"runwayml--stable-diffusion-v1-5", TextTower::openai_clip},
                            Manifest{"stabilityai--stable-diffusion-2-1", TextTower::open_clip}}) {
    const std::string dir = test::fixture("manifests/" + m.name);
    const auto sf = test::read_json(dir + "/single_file_keys.json");
    const Shapes stored = manifest_shapes(sf["keys"]);
    REQUIRE(stored.size() == sf["num_keys"].get<size_t>());
    const auto unet = UNet2DConditionConfig::from_json(read_json_file(dir + "/unet/config.json"));
    const auto vae = AutoencoderKLConfig::from_json(read_json_file(dir + "/vae/config.json"));
    const auto text = CLIPTextConfig::from_json(read_json_file(dir + "/text_encoder/config.json"));
    const LdmKeyMap map(LdmLayout::from_configs(unet, vae, m.text, text.num_hidden_layers));
    std::vector<std::string> ignored, unknown;
    auto converted = convert_names(map, stored, ignored, unknown);
    INFO(m.name);
    CHECK(ignored.empty());
    CHECK(unknown.empty());
    for (SdComponent c : {SdComponent::unet, SdComponent::vae, SdComponent::text_encoder})
      check_component_keys(m.name, c, converted[c], map, stored);
    CHECK(converted.size() == 3);
    std::cout << m.name << ": " << stored.size() << " single-file names, all converted\n";
  }
}

TEST_CASE("what real checkpoints carry beyond the weights is ignored by rule, anything else is unknown",
          "[single_file][keys]") {
  const std::string sd21 = test::fixture("manifests/stabilityai--stable-diffusion-2-1");
  const auto unet = UNet2DConditionConfig::from_json(read_json_file(sd21 + "/unet/config.json"));
  const auto vae = AutoencoderKLConfig::from_json(read_json_file(sd21 + "/vae/config.json"));
  const LdmKeyMap sd2(LdmLayout::from_configs(unet, vae, TextTower::open_clip, 23));
  const LdmKeyMap sd1(LdmLayout::from_configs(unet, vae, TextTower::openai_clip, 12));
  for (const char* name : {"betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
                           "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod",
                           "sqrt_recipm1_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped",
                           "posterior_mean_coef1", "posterior_mean_coef2", "logvar", "model_ema.decay",
                           "model_ema.num_updates", "model_ema.diffusion_modelinput_blocks00weight"}) {
    INFO(name);
    CHECK(sd1.convert(name).kind == KeyConversion::Kind::ignored);
    CHECK(sd2.convert(name).kind == KeyConversion::Kind::ignored);
  }
  CHECK(sd1.convert("cond_stage_model.transformer.text_model.embeddings.position_ids").kind == KeyConversion::Kind::ignored);
  // SD2: the 24th OpenCLIP block (index 23 = num_hidden_layers), the projection and temperature.
  for (const char* name : {"cond_stage_model.model.transformer.resblocks.23.attn.in_proj_weight",
                           "cond_stage_model.model.transformer.resblocks.23.mlp.c_proj.bias",
                           "cond_stage_model.model.text_projection", "cond_stage_model.model.logit_scale"}) {
    INFO(name);
    CHECK(sd2.convert(name).kind == KeyConversion::Kind::ignored);
  }
  for (const char* name : {"cond_stage_model.model.transformer.resblocks.24.ln_1.weight",  // a second extra block
                           "model.diffusion_model.input_blocks.12.0.in_layers.0.weight",  // past the last down slot
                           "model.diffusion_model.output_blocks.2.2.conv.weight",  // upsampler slot of a level without attention
                           "model.diffusion_model.label_emb.0.0.weight",           // SDXL only
                           "first_stage_model.decoder.up.4.block.0.conv1.weight",  // 4 VAE levels: up.0..3
                           "first_stage_model.encoder.mid.attn_1.q.scale", "cond_stage_model.transformer.embeddings.x",
                           "some_other_tensor"}) {
    INFO(name);
    CHECK(sd2.convert(name).kind == KeyConversion::Kind::unknown);
  }
  // The fused q/k/v splits into three Linear tensors; VAE 1x1 convs become Linear weights.
  auto qkv = sd2.convert("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight");
  REQUIRE(qkv.targets.size() == 3);
  CHECK(qkv.targets[1].name == "text_model.encoder.layers.0.self_attn.k_proj.weight");
  CHECK(converted_shape(qkv.targets[1].transform, {3072, 1024}) == std::vector<int64_t>{1024, 1024});
  at::Tensor fused = at::arange(12, at::kFloat).reshape({6, 2});
  CHECK(at::equal(convert_tensor(qkv.targets[2].transform, fused), fused.narrow(0, 4, 2)));
  auto q = sd2.convert("first_stage_model.decoder.mid.attn_1.q.weight");
  REQUIRE(q.targets.size() == 1);
  CHECK(q.targets[0].name == "decoder.mid_block.attentions.0.to_q.weight");
  CHECK(converted_shape(q.targets[0].transform, {512, 512, 1, 1}) == std::vector<int64_t>{512, 512});
  CHECK(sd2.convert("first_stage_model.decoder.up.3.upsample.conv.weight").targets.at(0).name ==
        "decoder.up_blocks.0.upsamplers.0.conv.weight");
}

TEST_CASE("SDXL single-file names (conditioner.embedders.*) convert to the diffusers keys too", "[single_file][keys]") {
  const std::string name = "stabilityai--stable-diffusion-xl-base-1.0";
  const std::string dir = test::fixture("manifests/" + name);
  const auto sf = test::read_json(dir + "/single_file_keys.json");
  const Shapes stored = manifest_shapes(sf["keys"]);
  const auto unet = UNet2DConditionConfig::from_json(read_json_file(dir + "/unet/config.json"));
  const auto vae = AutoencoderKLConfig::from_json(read_json_file(dir + "/vae/config.json"));
  const auto te = CLIPTextConfig::from_json(read_json_file(dir + "/text_encoder/config.json"));
  const auto te2 = CLIPTextConfig::from_json(read_json_file(dir + "/text_encoder_2/config.json"));
  const LdmKeyMap map(LdmLayout::from_configs(unet, vae, TextTower::sdxl, te.num_hidden_layers, te2.num_hidden_layers));
  std::vector<std::string> ignored, unknown;
  auto converted = convert_names(map, stored, ignored, unknown);
  CHECK(ignored.empty());
  CHECK(unknown.empty());
  for (SdComponent c : {SdComponent::unet, SdComponent::vae, SdComponent::text_encoder, SdComponent::text_encoder_2})
    check_component_keys(name, c, converted[c], map, stored);
  CHECK(map.convert("conditioner.embedders.1.model.text_projection").targets.at(0).transform == TensorTransform::transpose);
  CHECK(map.convert("conditioner.embedders.1.model.logit_scale").kind == KeyConversion::Kind::ignored);
}

TEST_CASE("the shipped configs are the released ones and give the manifests' architectures", "[single_file][configs]") {
  const std::string data = data_dir() + "/configs";
  struct Shipped {
    std::string family, unet_manifest, other_manifest;
  };
  for (const Shipped& s : {Shipped{"sd15", "runwayml--stable-diffusion-v1-5", "runwayml--stable-diffusion-v1-5"},
                           Shipped{"sd15-inpaint", "runwayml--stable-diffusion-inpainting", "runwayml--stable-diffusion-v1-5"},
                           Shipped{"sd21", "stabilityai--stable-diffusion-2-1", "stabilityai--stable-diffusion-2-1"}}) {
    INFO(s.family);
    const std::string dir = data + "/" + s.family;
    CHECK(read_json_file(dir + "/unet/config.json") == read_json_file(test::fixture("manifests/" + s.unet_manifest + "/unet/config.json")));
    for (const char* rel : {"vae/config.json", "text_encoder/config.json", "scheduler/scheduler_config.json"})
      CHECK(read_json_file(dir + "/" + rel) == read_json_file(test::fixture("manifests/" + s.other_manifest + "/" + rel)));
  }
  // SD2.1 (768) is a v-prediction model: the weights do not say so, its scheduler config does.
  CHECK(read_json_file(data + "/sd21/scheduler/scheduler_config.json")["prediction_type"] == "v_prediction");
  CHECK(read_json_file(data + "/sd15/scheduler/scheduler_config.json").value("prediction_type", "epsilon") == "epsilon");
}

// ---------------------------------------------------------------------------------------------
// 2. The fixtures' single files

TEST_CASE("each fixture single file gives the same tensors as its diffusers folder", "[single_file][parity]") {
  for (const char* name : kTiny) {
    INFO(name);
    auto single = load_single(name);
    auto ref = load_diffusers_model(folder(name), ModelLoadOptions{});
    const size_t n_unet = require_same_tensors(*single->unet, *ref->unet, "unet");
    const size_t n_vae = require_same_tensors(*single->vae, *ref->vae, "vae");
    const size_t n_text = require_same_tensors(*single->text_encoder, *ref->text_encoder, "text_encoder");
    std::cout << name << ": unet " << n_unet << ", vae " << n_vae << ", text encoder " << n_text
              << " tensors bit-identical to the folder's\n";
    CHECK(n_unet == 304);
    CHECK(n_vae == 156);
    CHECK(n_text == 84);
    CHECK(single->scheduler_config == ref->scheduler_config);
    CHECK(single->pipeline_class == ref->pipeline_class);
    CHECK(single->family == ref->family);
    CHECK(single->tokenizer->pad_token() == ref->tokenizer->pad_token());
    CHECK(single->default_steps == ref->default_steps);
    CHECK(single->default_width == ref->default_width);
  }
}

TEST_CASE("seeded cases through generate() with the single files give diffusers' pixels", "[single_file][parity][seeded]") {
  // One per pipeline (v-prediction from --config's scheduler config), plus img2img (VAE encoder).
  for (const char* id : {"sd15_default", "sd15_img2img", "sd21v_default", "inpaint9"}) {
    const auto c = seeded_case(id);
    auto model = load_single(c["pipeline"].get<std::string>());
    GenerationResult result = generate(*model, test::seeded_request(c));
    INFO(id);
    CHECK(result.unet_calls == c["unet_calls"].get<int>());
    CHECK(result.scheduler == c["scheduler_class"].get<std::string>());
    REQUIRE(result.images.size() == c["expected"].size());
    for (size_t k = 0; k < result.images.size(); ++k) {
      Image expected = load_image(test::fixture("seeded/" + c["expected"][k]["png"].get<std::string>()));
      const int diff = test::max_pixel_diff(result.images[k], expected);
      std::cout << id << " (single file): max pixel diff " << diff << "\n";
      CHECK(diff <= 1);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Detection, shipped configs, --vae, errors

TEST_CASE("the family is read from the text tower, the cross-attention width and the input channels",
          "[single_file][detect]") {
  struct Expect {
    const char* name;
    TextTower text;
    int64_t in_channels;
  };
  for (const Expect& e : {Expect{"tiny-sd15", TextTower::openai_clip, 4}, Expect{"tiny-sd21v", TextTower::open_clip, 4},
                          Expect{"tiny-sd15-inpaint", TextTower::openai_clip, 9}}) {
    INFO(e.name);
    auto d = detect_single_file(SafetensorsFile::open(single_file(e.name)));
    CHECK(d.text == e.text);
    CHECK(d.unet_in_channels == e.in_channels);
    CHECK(d.cross_attention_dim == 32);
    CHECK(d.has_vae);
    CHECK(d.family.empty());  // tiny: no shipped config fits
    const std::string err = load_error(single_file(e.name));
    CHECK_THAT(err, Catch::Matchers::Contains("unrecognised model family") && Catch::Matchers::Contains("--config") &&
                        Catch::Matchers::Contains("cross-attention width 32"));
  }
}

TEST_CASE("a checkpoint with real SD shapes picks the shipped config of its family", "[single_file][detect][configs]") {
  // Only the tensors detection reads, at their real shapes: the loader picks data/configs/<family>,
  // builds the full-size model from it and reports every weight the file lacks, by its LDM name.
  test::TempDir tmp;
  // The model built from the shipped config needs exactly the manifest's single-file names: all
  // but the 4 present are reported missing, once each (SD2's fused q/k/v once, not three times).
  struct Case {
    std::string family;
    std::string text_key;
    int64_t context, in_channels;
    int missing;
  };
  for (const Case& c : {Case{"sd15", "cond_stage_model.transformer.text_model.final_layer_norm.weight", 768, 4, 1130 - 4},
                        Case{"sd15-inpaint", "cond_stage_model.transformer.text_model.final_layer_norm.weight", 768, 9, 1130 - 4},
                        Case{"sd21", "cond_stage_model.model.ln_final.weight", 1024, 4, 1214 - 4}}) {
    INFO(c.family);
    std::map<std::string, at::Tensor> t;
    t["model.diffusion_model.input_blocks.0.0.weight"] = at::zeros({320, c.in_channels, 3, 3});
    t["model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"] = at::zeros({320, c.context});
    t["first_stage_model.quant_conv.weight"] = at::zeros({8, 8, 1, 1});
    t[c.text_key] = at::zeros({c.context});
    const std::string path = tmp.file(c.family + ".safetensors");
    save_safetensors(path, t);
    auto d = detect_single_file(SafetensorsFile::open(path));
    CHECK(d.family == c.family);
    const std::string err = load_error(path);
    CHECK_THAT(err, Catch::Matchers::Contains("configs/" + c.family + "'") &&
                        Catch::Matchers::Contains("missing tensor 'model.diffusion_model.") &&
                        Catch::Matchers::Contains(": " + std::to_string(c.missing) + " problem(s): "));
    std::cout << c.family << ": " << err.substr(0, 300) << "...\n";
  }
  // SD2 inpainting and SDXL are recognised but have no shipped config / no support.
  std::map<std::string, at::Tensor> t;
  t["model.diffusion_model.input_blocks.0.0.weight"] = at::zeros({320, 9, 3, 3});
  t["model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"] = at::zeros({320, 1024});
  t["cond_stage_model.model.ln_final.weight"] = at::zeros({1024});
  save_safetensors(tmp.file("sd2inpaint.safetensors"), t);
  CHECK_THAT(load_error(tmp.file("sd2inpaint.safetensors")),
             Catch::Matchers::Contains("SD2.x inpainting") && Catch::Matchers::Contains("--config"));
  t.erase("cond_stage_model.model.ln_final.weight");
  t["conditioner.embedders.0.transformer.text_model.final_layer_norm.weight"] = at::zeros({768});
  save_safetensors(tmp.file("sdxl.safetensors"), t);
  CHECK_THAT(load_error(tmp.file("sdxl.safetensors")), Catch::Matchers::Contains("SDXL"));
  t.erase("conditioner.embedders.0.transformer.text_model.final_layer_norm.weight");
  save_safetensors(tmp.file("notext.safetensors"), t);
  CHECK_THAT(load_error(tmp.file("notext.safetensors")), Catch::Matchers::Contains("no text encoder"));
}

TEST_CASE("unknown, missing and misshaped tensors are errors naming the tensor", "[single_file][errors]") {
  test::TempDir tmp;
  const std::string sd15 = single_file("tiny-sd15");
  const std::string cfg = folder("tiny-sd15");
  auto unknown = write_variant(tmp, "unknown.safetensors", sd15, [](auto& t) {
    t["model.diffusion_model.mystery_block.weight"] = at::zeros({3});
  });
  CHECK_THAT(load_error(unknown, cfg), Catch::Matchers::Contains("unknown tensor 'model.diffusion_model.mystery_block.weight' [3]"));
  auto missing = write_variant(tmp, "missing.safetensors", sd15, [](auto& t) {
    t.erase("model.diffusion_model.input_blocks.1.1.proj_in.weight");
    t.erase("first_stage_model.decoder.up.1.upsample.conv.bias");
  });
  const std::string missing_err = load_error(missing, cfg);
  CHECK_THAT(missing_err, Catch::Matchers::Contains("missing tensor 'model.diffusion_model.input_blocks.1.1.proj_in.weight' "
                                                    "(diffusers 'down_blocks.0.attentions.0.proj_in.weight'"));
  CHECK_THAT(missing_err, Catch::Matchers::Contains("missing tensor 'first_stage_model.decoder.up.1.upsample.conv.bias'"));
  CHECK_THAT(missing_err, Catch::Matchers::Contains("2 problem(s)"));
  auto shape = write_variant(tmp, "shape.safetensors", sd15, [](auto& t) {
    t["model.diffusion_model.out.2.weight"] = at::zeros({4, 32, 1, 1});
  });
  CHECK_THAT(load_error(shape, cfg), Catch::Matchers::Contains("tensor 'model.diffusion_model.out.2.weight' has shape [4, 32, 1, 1]") &&
                                         Catch::Matchers::Contains("needs [4, 32, 3, 3]"));
  // SD2: a missing fused projection, a second extra OpenCLIP block.
  const std::string sd21 = single_file("tiny-sd21v");
  auto fused = write_variant(tmp, "fused.safetensors", sd21, [](auto& t) {
    t.erase("cond_stage_model.model.transformer.resblocks.2.attn.in_proj_weight");
  });
  const std::string fused_err = load_error(fused, folder("tiny-sd21v"));
  CHECK_THAT(fused_err, Catch::Matchers::Contains("missing tensor 'cond_stage_model.model.transformer.resblocks.2.attn.in_proj_weight' "
                                                  "(diffusers 'text_model.encoder.layers.2.self_attn.") &&
                            Catch::Matchers::Contains("1 problem(s)"));
  auto extra = write_variant(tmp, "extra.safetensors", sd21, [](auto& t) {
    t["cond_stage_model.model.transformer.resblocks.6.ln_1.weight"] = at::ones({32});
  });
  CHECK_THAT(load_error(extra, folder("tiny-sd21v")),
             Catch::Matchers::Contains("unknown tensor 'cond_stage_model.model.transformer.resblocks.6.ln_1.weight'"));
  // The wrong --config: SD2 names against an SD1 config.
  CHECK_THAT(load_error(sd21, cfg), Catch::Matchers::Contains("problem(s)"));
  // No VAE in the file.
  auto no_vae = write_variant(tmp, "novae.safetensors", sd15, [](auto& t) {
    for (auto it = t.begin(); it != t.end();) it = it->first.rfind("first_stage_model.", 0) == 0 ? t.erase(it) : std::next(it);
  });
  CHECK_THAT(load_error(no_vae, cfg), Catch::Matchers::Contains("--vae"));
  CHECK_NOTHROW(load_single_file_model(no_vae, [&] {
    ModelLoadOptions o;
    o.config_dir = cfg;
    o.vae_file = folder("tiny-sd15") + "/vae/diffusion_pytorch_model.safetensors";
    return o;
  }()));
  // Not an LDM checkpoint: a diffusers component file.
  CHECK_THAT(load_error(folder("tiny-sd15") + "/unet/diffusion_pytorch_model.safetensors", cfg),
             Catch::Matchers::Contains("not a single-file") && Catch::Matchers::Contains("diffusers folder"));
}

TEST_CASE("ignored extras load: EMA copies, logvar, float position_ids, fp16 weights", "[single_file][errors]") {
  test::TempDir tmp;
  auto path = write_variant(tmp, "extras.safetensors", single_file("tiny-sd15"), [](auto& t) {
    t["model_ema.decay"] = at::ones({});
    t["model_ema.diffusion_modelout2weight"] = at::zeros({4, 32, 3, 3});
    t["logvar"] = at::zeros({1000});
    t["cond_stage_model.transformer.text_model.embeddings.position_ids"] = at::arange(77, at::kFloat).unsqueeze(0) - 1e-4;
    for (auto& kv : t)
      if (kv.first.rfind("model.diffusion_model.", 0) == 0) kv.second = kv.second.to(at::kHalf);
  });
  ModelLoadOptions o;
  o.config_dir = folder("tiny-sd15");
  auto m = load_single_file_model(path, o);
  auto ref = load_diffusers_model(folder("tiny-sd15"), ModelLoadOptions{});
  // fp16 UNet weights become the fp32 model's, rounded through half.
  const auto ours = m->unet->named_parameters(true);
  for (const auto& p : ref->unet->named_parameters(true)) {
    INFO(p.key());
    REQUIRE(at::equal(ours[p.key()], p.value().to(at::kHalf).to(at::kFloat)));
  }
  require_same_tensors(*m->text_encoder, *ref->text_encoder, "text_encoder");
}

TEST_CASE("--vae replaces the checkpoint's VAE: diffusers names, old diffusers names, LDM names", "[single_file][vae]") {
  test::TempDir tmp;
  const std::string sdxl_vae = folder("tiny-sdxl") + "/vae/diffusion_pytorch_model.safetensors";
  const auto sdxl_tensors = SafetensorsFile::open(sdxl_vae).tensors();
  // 1. diffusers names
  auto m = load_single("tiny-sd15", sdxl_vae);
  CHECK(same_vae(m->vae, sdxl_tensors));
  auto ref = load_diffusers_model(folder("tiny-sd15"), ModelLoadOptions{});
  require_same_tensors(*m->unet, *ref->unet, "unet");
  // 2. pre-0.14 attention names (query/key/value/proj_attn)
  std::map<std::string, at::Tensor> old;
  for (const auto& kv : sdxl_tensors) {
    std::string n = kv.first;
    for (const auto& p : std::vector<std::pair<std::string, std::string>>{
             {".to_q.", ".query."}, {".to_k.", ".key."}, {".to_v.", ".value."}, {".to_out.0.", ".proj_attn."}}) {
      const size_t at = n.find(p.first);
      if (at != std::string::npos) n = n.substr(0, at) + p.second + n.substr(at + p.first.size());
    }
    old[n] = kv.second;
  }
  REQUIRE(old.count("encoder.mid_block.attentions.0.query.weight"));
  save_safetensors(tmp.file("old.safetensors"), old);
  CHECK(same_vae(load_single("tiny-sd15", tmp.file("old.safetensors"))->vae, sdxl_tensors));
  // 3. LDM names, with and without first_stage_model., and a whole checkpoint: tiny-sd21v's VAE
  //    (the same weights as tiny-sd15's folder VAE, seed 2) into tiny-sd15 -> equals the folder VAE.
  const auto folder_vae = vae_tensors_of(ref->vae);
  std::map<std::string, at::Tensor> prefixed, bare;
  for (const auto& kv : SafetensorsFile::open(single_file("tiny-sd21v")).tensors()) {
    if (kv.first.rfind("first_stage_model.", 0) != 0) continue;
    prefixed[kv.first] = kv.second;
    bare[kv.first.substr(std::string("first_stage_model.").size())] = kv.second;
  }
  REQUIRE(bare.count("decoder.mid.attn_1.q.weight"));
  CHECK(bare.at("decoder.mid.attn_1.q.weight").dim() == 4);  // 1x1 conv in LDM files
  save_safetensors(tmp.file("prefixed.safetensors"), prefixed);
  save_safetensors(tmp.file("bare.safetensors"), bare);
  for (const std::string& vae : {tmp.file("prefixed.safetensors"), tmp.file("bare.safetensors"), single_file("tiny-sd21v")}) {
    INFO(vae);
    auto with_sdxl_vae_first = load_single("tiny-sd15", sdxl_vae);
    REQUIRE_FALSE(same_vae(with_sdxl_vae_first->vae, folder_vae));
    CHECK(same_vae(load_single("tiny-sd15", vae)->vae, folder_vae));
  }
  // 4. not a VAE; an LDM VAE file with an unknown tensor
  CHECK_THAT(load_error(single_file("tiny-sd15"), folder("tiny-sd15"), folder("tiny-sd15") + "/unet/diffusion_pytorch_model.safetensors"),
             Catch::Matchers::Contains("is not a VAE"));
  bare["decoder.mid.attn_1.extra.weight"] = at::zeros({2});
  save_safetensors(tmp.file("bad.safetensors"), bare);
  CHECK_THAT(load_error(single_file("tiny-sd15"), folder("tiny-sd15"), tmp.file("bad.safetensors")),
             Catch::Matchers::Contains("unknown tensor 'decoder.mid.attn_1.extra.weight'"));
}
