// Key mapping and merged weights against diffusers (lora_targets.h, sgm_names.h, lora_delta.h):
//  1. SGM/LDM block names of SDXL kohya files -> diffusers module names;
//  2. every fixture LoRA, both files, at weights 1.0 and 0.5 fused into tiny-sd15 / tiny-sdxl:
//     the module set and per-module checksums of the merged weight and of the delta against
//     `<name>.merged_s10.json` / `.merged_s05.json` (diffusers' fuse_lora), and the full merged
//     weights of `<name>.merged_s10.safetensors`. Tolerances: the checksums are float64 sums
//     over up to 32k float32 values: |sum - ref| <= 1e-5 * abs_sum (delta_sum against
//     delta_abs_sum), abs_sum, delta_abs_sum and delta_abs_max relative 1e-5, max/min 1e-6
//     absolute; full weights max |diff| <= 1e-6 (the fixtures' float32-vs-float64 merge error
//     is <= 4e-8);
//  3. refusals, each before anything is written: an SDXL LoRA on SD1.5 (and the reverse), a key
//     that matches no module (named; ignore_unmatched skips it), foreign keys, a shape that does
//     not fit, two keys for one module.
#include <catch.hpp>

#include <cmath>
#include <iostream>

#include "model/lora/lora_delta.h"
#include "model/lora/lora_file.h"
#include "model/lora/lora_targets.h"
#include "model/lora/sgm_names.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/model_loras.h"
#include "model/safetensors/safetensors.h"
#include "test_util.h"

using namespace sdw;

namespace {

std::string lora_fixture(const std::string& name) { return test::fixture("lora/" + name); }

std::shared_ptr<SdModel> model_for(const std::string& lora) {
  static std::map<std::string, std::shared_ptr<SdModel>> models;
  const std::string pipeline = lora.rfind("sdxl", 0) == 0 ? "tiny-sdxl" : "tiny-sd15";
  auto& m = models[pipeline];
  if (!m) m = load_diffusers_model(test::fixture("pipelines/" + pipeline), ModelLoadOptions{});
  return m;
}

std::string target_name(const LoraModule& m) { return std::string(component_name(m.component)) + "." + m.name; }

// All UNet and text-encoder parameters, copied (bytes compared after a refused apply).
std::map<std::string, at::Tensor> snapshot(const SdModel& model) {
  std::map<std::string, at::Tensor> out;
  nn::unpack_weights(*model.unet.ptr());  // layers packed by a forward pass (nn/packed_layer.h): their plain values
  nn::unpack_weights(*model.text_encoder.ptr());
  if (!model.text_encoder_2.is_empty()) nn::unpack_weights(*model.text_encoder_2.ptr());
  for (const auto& p : model.unet->named_parameters()) out["unet." + p.key()] = p.value().clone();
  for (const auto& p : model.text_encoder->named_parameters()) out["te." + p.key()] = p.value().clone();
  if (!model.text_encoder_2.is_empty())
    for (const auto& p : model.text_encoder_2->named_parameters()) out["te2." + p.key()] = p.value().clone();
  return out;
}

bool same_bytes(const std::map<std::string, at::Tensor>& a, const std::map<std::string, at::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [k, t] : a)
    if (!at::equal(t, b.at(k))) return false;
  return true;
}

struct MergeError {
  double stat = 0;    // worst checksum error, relative to its scale
  double extreme = 0; // worst max/min error (absolute)
  double full = 0;    // worst |W' - ref| over the full merged weights (s10 files)
};

MergeError check_merged(const std::string& lora, const std::string& format, double strength) {
  auto model = model_for(lora);
  apply_request_loras(*model, {});
  const std::string file = lora_fixture(lora + "." + format + ".safetensors");
  const LoraFile parsed = read_lora_file(file);
  const LoraModuleIndex index(lora_parts(*model));
  const std::vector<LoraTarget> targets = map_lora(parsed, index, false);
  std::map<std::string, at::Tensor> base;
  std::map<std::string, std::string> key_of;  // module -> the file's key
  for (const LoraTarget& t : targets) {
    base[target_name(*t.module)] = t.module->plain_weight().clone();
    key_of[target_name(*t.module)] = t.layer->key;
  }
  apply_request_loras(*model, {LoraUse{file, strength}});

  const auto ref = test::read_json(lora_fixture(lora + (strength == 1.0 ? ".merged_s10.json" : ".merged_s05.json")));
  const auto& modules = ref["modules"];
  CHECK(modules.size() == targets.size());
  MergeError err;
  for (const LoraTarget& t : targets) {
    const std::string name = target_name(*t.module);
    INFO(lora << " " << format << " x" << strength << ": " << name);
    REQUIRE(modules.contains(name));
    const auto& r = modules[name];
    if (format == "kohya") CHECK(key_of[name] == r["kohya"].get<std::string>());  // the mapping itself
    const at::Tensor w = t.module->plain_weight().to(at::kDouble);
    const at::Tensor d = w - base[name].to(at::kDouble);
    auto rel = [](double a, double b, double scale) { return std::fabs(a - b) / scale; };
    const double abs_sum = r["abs_sum"], delta_abs_sum = r["delta_abs_sum"];
    const double errs[] = {
        rel(w.sum().item<double>(), r["sum"], abs_sum),
        rel(w.abs().sum().item<double>(), abs_sum, abs_sum),
        rel(d.sum().item<double>(), r["delta_sum"], delta_abs_sum),
        rel(d.abs().sum().item<double>(), delta_abs_sum, delta_abs_sum),
        rel(d.abs().max().item<double>(), r["delta_abs_max"], r["delta_abs_max"].get<double>()),
    };
    for (double e : errs) {
      CHECK(e <= 1e-5);
      err.stat = std::max(err.stat, e);
    }
    const double extreme = std::max(std::fabs(w.max().item<double>() - r["max"].get<double>()),
                                    std::fabs(w.min().item<double>() - r["min"].get<double>()));
    CHECK(extreme <= 1e-6);
    err.extreme = std::max(err.extreme, extreme);
  }
  if (strength == 1.0 && (lora == "sd15_A" || lora == "sd15_locon" || lora == "sdxl_A")) {
    const auto full = SafetensorsFile::open(lora_fixture(lora + ".merged_s10.safetensors"));
    for (const std::string& key : full.names()) {
      const std::string name = key.substr(0, key.size() - std::string(".weight").size());
      const LoraModule* m = nullptr;
      for (const LoraTarget& t : targets)
        if (target_name(*t.module) == name) m = t.module;
      INFO(key);
      REQUIRE(m);
      const double diff = (m->plain_weight() - full.get(key)).abs().max().item<double>();
      CHECK(diff <= 1e-6);
      err.full = std::max(err.full, diff);
    }
  }
  apply_request_loras(*model, {});
  return err;
}

// A copy of a fixture LoRA's tensors with `extra` added, written to `path`.
void write_variant(const std::string& from, const std::string& path, const std::map<std::string, at::Tensor>& extra) {
  auto tensors = SafetensorsFile::open(lora_fixture(from)).tensors();
  for (const auto& [k, v] : extra) tensors[k] = v;
  save_safetensors(path, tensors);
}

}  // namespace

TEST_CASE("SGM block names map to diffusers module names", "[lora][parity]") {
  const std::pair<const char*, const char*> cases[] = {
      {"input_blocks_4_1_proj_in", "down_blocks_1_attentions_0_proj_in"},
      {"input_blocks_1_0_in_layers_2", "down_blocks_0_resnets_0_conv1"},
      {"input_blocks_2_0_out_layers_3", "down_blocks_0_resnets_1_conv2"},
      {"input_blocks_3_0_op", "down_blocks_0_downsamplers_0_conv"},
      {"input_blocks_5_1_transformer_blocks_1_attn2_to_k", "down_blocks_1_attentions_1_transformer_blocks_1_attn2_to_k"},
      {"input_blocks_7_0_skip_connection", "down_blocks_2_resnets_0_conv_shortcut"},
      {"middle_block_0_emb_layers_1", "mid_block_resnets_0_time_emb_proj"},
      {"middle_block_1_transformer_blocks_0_ff_net_0_proj", "mid_block_attentions_0_transformer_blocks_0_ff_net_0_proj"},
      {"middle_block_2_in_layers_2", "mid_block_resnets_1_conv1"},
      {"output_blocks_0_0_skip_connection", "up_blocks_0_resnets_0_conv_shortcut"},
      {"output_blocks_2_1_proj_out", "up_blocks_0_attentions_2_proj_out"},
      {"output_blocks_2_2_conv", "up_blocks_0_upsamplers_0_conv"},
      {"output_blocks_5_1_conv", "up_blocks_1_upsamplers_0_conv"},  // SGM's index for a block without attention
      {"output_blocks_4_0_in_layers_2", "up_blocks_1_resnets_1_conv1"},
  };
  for (const auto& [sgm, diffusers] : cases) {
    INFO(sgm);
    CHECK(is_sgm_unet_name(sgm));
    CHECK(sgm_to_diffusers_name(sgm, 2) == std::optional<std::string>(diffusers));
  }
  CHECK_FALSE(sgm_to_diffusers_name("input_blocks_0_0", 2));  // conv_in: no block
  CHECK_FALSE(sgm_to_diffusers_name("middle_block_3_proj_in", 2));
  CHECK_FALSE(sgm_to_diffusers_name("input_blocks_x_1_proj_in", 2));
  CHECK_FALSE(is_sgm_unet_name("down_blocks_0_attentions_0_proj_in"));
  CHECK(sgm_to_diffusers_name("input_blocks_3_1_proj_in", 1) == std::optional<std::string>("down_blocks_1_attentions_0_proj_in"));
}

TEST_CASE("merged weights equal diffusers' fuse_lora for every LoRA, both formats, weights 1.0 and 0.5", "[lora][parity]") {
  for (const char* lora : {"sd15_A", "sd15_B", "sd15_locon", "sdxl_A", "sdxl_B"}) {
    MergeError worst;
    for (const char* format : {"kohya", "peft"})
      for (double strength : {1.0, 0.5}) {
        const MergeError e = check_merged(lora, format, strength);
        worst.stat = std::max(worst.stat, e.stat);
        worst.extreme = std::max(worst.extreme, e.extreme);
        worst.full = std::max(worst.full, e.full);
      }
    std::cout << "merged weights " << lora << " (kohya + peft, x1.0 and x0.5): checksum error " << worst.stat
              << " (relative), max/min error " << worst.extreme << ", full merged weights max |diff| " << worst.full
              << "\n";
  }
}

TEST_CASE("an SDXL LoRA on an SD1.5 model, and the reverse, are refused and say so", "[lora][parity]") {
  auto sd15 = model_for("sd15");
  auto sdxl = model_for("sdxl");
  const LoraModuleIndex sd15_index(lora_parts(*sd15)), sdxl_index(lora_parts(*sdxl));
  for (const char* f : {"sdxl_A.kohya.safetensors", "sdxl_B.peft.safetensors"}) {
    INFO(f);
    CHECK_THROWS_WITH(map_lora(read_lora_file(lora_fixture(f)), sd15_index, false),
                      Catch::Contains("is an SDXL LoRA") && Catch::Contains("SD1.x model"));
    CHECK_THROWS_WITH(map_lora(read_lora_file(lora_fixture(f)), sd15_index, true), Catch::Contains("is an SDXL LoRA"));
  }
  CHECK_THROWS_WITH(map_lora(read_lora_file(lora_fixture("sd15_A.kohya.safetensors")), sdxl_index, false),
                    Catch::Contains("looks like an SD1.x LoRA") && Catch::Contains("the model is SDXL") &&
                        Catch::Contains("lora_unet_down_blocks_0_attentions_0"));
  CHECK_THROWS_WITH(map_lora(read_lora_file(lora_fixture("sd15_B.peft.safetensors")), sdxl_index, false),
                    Catch::Contains("SD1.x"));
  // Through the request check: a RequestError, and nothing written.
  const auto before = snapshot(*sd15);
  GenerationRequest r;
  r.prompt = "a cat";
  r.loras = {LoraUse{lora_fixture("sdxl_A.kohya.safetensors"), 1.0}};
  CHECK_THROWS_AS(resolve_request(*sd15, r), RequestError);
  CHECK_THROWS_WITH(resolve_request(*sd15, r), Catch::Contains("loras: ") && Catch::Contains("SDXL"));
  r.loras = {LoraUse{lora_fixture("sd15_A.kohya.safetensors"), 1.0}, LoraUse{lora_fixture("sdxl_A.kohya.safetensors"), 1.0}};
  CHECK_THROWS_AS(apply_request_loras(*sd15, r.loras), LoraError);
  CHECK(same_bytes(before, snapshot(*sd15)));
}

TEST_CASE("keys that match no module are errors naming them, unless ignore_unmatched", "[lora][parity]") {
  auto sd15 = model_for("sd15");
  const LoraModuleIndex index(lora_parts(*sd15));
  test::TempDir dir;
  const std::string bogus = "lora_unet_down_blocks_7_attentions_0_proj_in";
  write_variant("sd15_A.kohya.safetensors", dir.file("extra.safetensors"),
                {{bogus + ".lora_down.weight", at::randn({4, 32})}, {bogus + ".lora_up.weight", at::randn({32, 4})}});
  const LoraFile extra = read_lora_file(dir.file("extra.safetensors"));
  CHECK_THROWS_WITH(map_lora(extra, index, false), Catch::Contains("'" + bogus + "'") && Catch::Contains("1 of 103"));
  CHECK(map_lora(extra, index, true).size() == 102);

  const std::string q = "lora_te_text_model_encoder_layers_0_self_attn_q_proj";
  write_variant("sd15_A.kohya.safetensors", dir.file("dora.safetensors"), {{q + ".dora_scale", at::randn({1, 32})}});
  const LoraFile dora = read_lora_file(dir.file("dora.safetensors"));
  CHECK_THROWS_WITH(map_lora(dora, index, false), Catch::Contains(q + ".dora_scale"));
  CHECK(map_lora(dora, index, true).size() == 102);

  // The request check and the fuse take the option from the request.
  GenerationRequest r;
  r.prompt = "a cat";
  r.loras = {LoraUse{dir.file("extra.safetensors"), 1.0}};
  CHECK_THROWS_WITH(resolve_request(*sd15, r), Catch::Contains(bogus));
  r.loras[0].ignore_unmatched = true;
  CHECK_NOTHROW(resolve_request(*sd15, r));
  CHECK(apply_request_loras(*sd15, r.loras).modules == 102);
  apply_request_loras(*sd15, {});
}

TEST_CASE("shapes that do not fit and two keys for one module are refused", "[lora][parity]") {
  auto sd15 = model_for("sd15");
  const LoraModuleIndex index(lora_parts(*sd15));
  test::TempDir dir;
  const std::string q = "lora_te_text_model_encoder_layers_0_self_attn_q_proj";
  write_variant("sd15_A.kohya.safetensors", dir.file("wide.safetensors"), {{q + ".lora_down.weight", at::randn({4, 33})}});
  CHECK_THROWS_WITH(map_lora(read_lora_file(dir.file("wide.safetensors")), index, false),
                    Catch::Contains(q) && Catch::Contains("[4, 33]") && Catch::Contains("[32, 32]") &&
                        Catch::Contains("does not fit"));
  const std::string peft_q = "text_encoder.text_model.encoder.layers.0.self_attn.q_proj";
  write_variant("sd15_A.kohya.safetensors", dir.file("twice.safetensors"),
                {{peft_q + ".lora_A.weight", at::randn({4, 32})}, {peft_q + ".lora_B.weight", at::randn({32, 4})}});
  const LoraFile twice = read_lora_file(dir.file("twice.safetensors"));
  CHECK(twice.format == "kohya+peft");
  CHECK_THROWS_WITH(map_lora(twice, index, false), Catch::Contains("two keys patch"));
}
