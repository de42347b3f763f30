// Reading LoRA files (lora_file.h), what they are for (lora_info.h) and A1111's hashes
// (lora_hash.h), on the fixture LoRAs of tests/fixtures/lora (kohya and PEFT files of the same
// LoRAs, made by diffusers 0.30.3; see their README, section K) and on hand-made tensors.
#include <catch.hpp>

#include <fstream>

#include "model/lora/lora_file.h"
#include "model/lora/lora_hash.h"
#include "model/lora/lora_info.h"
#include "model/safetensors/safetensors.h"
#include "test_util.h"

using namespace sdw;

namespace {

std::string lora_fixture(const std::string& name) { return test::fixture("lora/" + name); }

const LoraLayer* find_layer(const LoraFile& f, const std::string& key) {
  for (const LoraLayer& l : f.layers)
    if (l.key == key) return &l;
  return nullptr;
}

at::Tensor randn(std::vector<int64_t> shape) { return at::randn(shape); }

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

}  // namespace

TEST_CASE("kohya files: modules per component, alpha, rank, 1x1 and 3x3 convolutions", "[lora]") {
  // Module counts from loras.json: sd15_A 102 (te 30, unet 72), sd15_B 80 (20, 60), sd15_locon 69
  // (unet), sdxl_A 195 (te 30, te2 30, unet 135), sdxl_B 141 (20, 25, 96).
  struct Expect {
    const char* name;
    int64_t te, te2, unet;
    std::optional<double> alpha;
  };
  for (const Expect& e : {Expect{"sd15_A", 30, 0, 72, 8.0}, Expect{"sd15_B", 20, 0, 60, std::nullopt},
                          Expect{"sd15_locon", 0, 0, 69, 2.0}, Expect{"sdxl_A", 30, 30, 135, 8.0},
                          Expect{"sdxl_B", 20, 25, 96, std::nullopt}}) {
    INFO(e.name);
    const LoraFile f = read_lora_file(lora_fixture(std::string(e.name) + ".kohya.safetensors"));
    const LoraInfo info = describe_lora(f);
    CHECK(f.format == "kohya");
    CHECK(f.unknown_keys.empty());
    CHECK(info.text_encoder_modules == e.te);
    CHECK(info.text_encoder_2_modules == e.te2);
    CHECK(info.unet_modules == e.unet);
    CHECK(info.rank == 4);
    CHECK(info.min_rank == 4);
    CHECK(info.file_size > 0);
    for (const LoraLayer& l : f.layers) {
      CHECK(l.naming == LoraNaming::kohya);
      CHECK(l.alpha == e.alpha);
      CHECK(l.scale() == (e.alpha ? *e.alpha / 4 : 1.0));
    }
  }
  const LoraFile locon = read_lora_file(lora_fixture("sd15_locon.kohya.safetensors"));
  const LoraLayer* conv = find_layer(locon, "lora_unet_down_blocks_0_resnets_0_conv1");
  REQUIRE(conv);
  CHECK(conv->down.sizes() == at::IntArrayRef({4, 32, 3, 3}));  // [r, in, 3, 3]
  CHECK(conv->up.sizes() == at::IntArrayRef({32, 4, 1, 1}));    // [out, r, 1, 1]
  CHECK(describe_lora(locon).conv3x3);
  const LoraFile xl = read_lora_file(lora_fixture("sdxl_A.kohya.safetensors"));
  const LoraLayer* te2 = find_layer(xl, "lora_te2_text_model_encoder_layers_0_self_attn_q_proj");
  REQUIRE(te2);
  CHECK(te2->component == LoraComponent::text_encoder_2);
  CHECK(te2->module == "text_model_encoder_layers_0_self_attn_q_proj");
  const LoraLayer* sgm = find_layer(xl, "lora_unet_input_blocks_4_1_proj_in");
  REQUIRE(sgm);
  CHECK(sgm->module == "input_blocks_4_1_proj_in");
}

TEST_CASE("PEFT files: dotted module names, no alpha; same modules as the kohya file", "[lora]") {
  for (const char* name : {"sd15_A", "sd15_B", "sd15_locon", "sdxl_A", "sdxl_B"}) {
    INFO(name);
    const LoraFile peft = read_lora_file(lora_fixture(std::string(name) + ".peft.safetensors"));
    const LoraFile kohya = read_lora_file(lora_fixture(std::string(name) + ".kohya.safetensors"));
    CHECK(peft.format == "peft");
    CHECK(peft.unknown_keys.empty());
    CHECK(peft.layers.size() == kohya.layers.size());
    for (const LoraLayer& l : peft.layers) {
      CHECK(l.naming == LoraNaming::diffusers);
      CHECK_FALSE(l.alpha.has_value());
    }
  }
  const LoraFile f = read_lora_file(lora_fixture("sdxl_B.peft.safetensors"));
  const LoraLayer* l = find_layer(f, "text_encoder_2.text_model.encoder.layers.0.mlp.fc2");
  REQUIRE(l);
  CHECK(l->component == LoraComponent::text_encoder_2);
  CHECK(l->module == "text_model.encoder.layers.0.mlp.fc2");
}

TEST_CASE("pickle files are refused by extension and by content", "[lora]") {
  test::TempDir dir;
  for (const char* ext : {".ckpt", ".pt", ".pth", ".bin"}) {
    const std::string path = dir.file(std::string("x") + ext);
    write_bytes(path, "\x80\x02}q\x00.");
    CHECK_THROWS_WITH(read_lora_file(path), Catch::Contains("pickle") && Catch::Contains(ext));
  }
  const std::string disguised = dir.file("disguised.safetensors");
  write_bytes(disguised, std::string("\x80\x04\x95", 3) + "rest of a pickle");
  CHECK_THROWS_WITH(read_lora_file(disguised), Catch::Contains("pickle"));
  const std::string zip = dir.file("zipped.safetensors");
  write_bytes(zip, std::string("PK\x03\x04", 4) + "archive");
  CHECK_THROWS_WITH(read_lora_file(zip), Catch::Contains("zip"));
  CHECK_THROWS_WITH(read_lora_file(dir.file("missing.safetensors")), Catch::Contains("missing.safetensors"));
}

TEST_CASE("malformed LoRA tensors are errors naming the key; foreign keys are listed", "[lora]") {
  const std::string q = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
  CHECK_THROWS_WITH(parse_lora_tensors({{q + ".lora_down.weight", randn({4, 32})}}, "t"),
                    Catch::Contains(q + ".lora_down.weight") && Catch::Contains("partner"));
  CHECK_THROWS_WITH(parse_lora_tensors({{q + ".lora_up.weight", randn({32, 4})}}, "t"),
                    Catch::Contains(q + ".lora_up.weight"));
  CHECK_THROWS_WITH(parse_lora_tensors({{q + ".lora_down.weight", randn({4, 32})}, {q + ".lora_up.weight", randn({32, 2})}}, "t"),
                    Catch::Contains("ranks differ") && Catch::Contains(q));
  CHECK_THROWS_WITH(parse_lora_tensors({{q + ".lora_down.weight", randn({4, 32})},
                                        {q + ".lora_up.weight", randn({32, 4})},
                                        {q + ".alpha", randn({2})}},
                                       "t"),
                    Catch::Contains(q + ".alpha") && Catch::Contains("scalar"));
  CHECK_THROWS_WITH(parse_lora_tensors({{"model.diffusion_model.out.2.weight", randn({4, 4})}}, "t"),
                    Catch::Contains("no LoRA tensors"));
  const LoraFile f = parse_lora_tensors({{q + ".lora_down.weight", randn({4, 32})},
                                         {q + ".lora_up.weight", randn({32, 4})},
                                         {q + ".dora_scale", randn({1, 32})},
                                         {"lora_unet_foo.hada_w1_a", randn({4, 4})}},
                                        "t");
  CHECK(f.layers.size() == 1);
  CHECK(f.unknown_keys == std::vector<std::string>{q + ".dora_scale", "lora_unet_foo.hada_w1_a"});
  // The older diffusers spellings read as lora_A / lora_B.
  const LoraFile old = parse_lora_tensors({{"unet.mid_block.attentions.0.proj_in.lora.down.weight", randn({4, 64})},
                                           {"unet.mid_block.attentions.0.proj_in.lora.up.weight", randn({64, 4})},
                                           {"text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_linear_layer.down.weight", randn({4, 32})},
                                           {"text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_linear_layer.up.weight", randn({37, 4})}},
                                          "t");
  REQUIRE(old.layers.size() == 2);
  CHECK(old.layers[1].module == "mid_block.attentions.0.proj_in");
  CHECK(old.layers[0].module == "text_model.encoder.layers.0.mlp.fc1");
}

TEST_CASE("base family from keys and shapes", "[lora]") {
  auto guess = [](const char* file) { return guess_lora_family(read_lora_file(lora_fixture(file))); };
  CHECK(guess("sdxl_A.kohya.safetensors").family == "sdxl");
  CHECK(guess("sdxl_A.kohya.safetensors").definite);
  CHECK(guess("sdxl_B.peft.safetensors").family == "sdxl");
  CHECK(guess("sd15_A.kohya.safetensors").family == "sd1");
  CHECK(guess("sd15_B.peft.safetensors").family == "sd1");
  CHECK(guess("sd15_locon.kohya.safetensors").family == "sd1");  // kohya UNet keys in diffusers form
  CHECK(guess("sd15_locon.peft.safetensors").family.empty());     // tiny widths, UNet only: no telling
  CHECK(describe_lora(read_lora_file(lora_fixture("sd15_locon.peft.safetensors"))).family == "unknown");
  // Real widths: the cross-attention width decides.
  auto with_cross = [](int64_t width) {
    const std::string k = "lora_unet_up_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k";
    return guess_lora_family(parse_lora_tensors({{k + ".lora_down.weight", randn({4, width})}, {k + ".lora_up.weight", randn({320, 4})}}, "t"));
  };
  CHECK(with_cross(768).family == "sd1");
  CHECK(with_cross(1024).family == "sd2");
  CHECK(with_cross(2048).family == "sdxl");
  CHECK(with_cross(2048).definite);
}

TEST_CASE("A1111 hashes: SHA-256 of the data after the header, 12 digits; metadata does not change it", "[lora]") {
  // Expected values: hashlib.sha256(data[8 + n:]).hexdigest()[:12] in Python.
  CHECK(lora_short_hash(lora_fixture("sd15_A.kohya.safetensors")) == "17b1aa695980");
  CHECK(lora_short_hash(lora_fixture("sdxl_B.peft.safetensors")) == "3ff1745626aa");
  CHECK(lora_addnet_hash(lora_fixture("sd15_A.kohya.safetensors")).size() == 64);
  test::TempDir dir;
  const std::map<std::string, at::Tensor> tensors{{"lora_te_x.lora_down.weight", at::ones({2, 3})},
                                                  {"lora_te_x.lora_up.weight", at::ones({3, 2})}};
  save_safetensors(dir.file("a.safetensors"), tensors, {{"ss_output_name", "a"}});
  save_safetensors(dir.file("b.safetensors"), tensors, {{"ss_output_name", "a longer name, other metadata"}});
  CHECK(lora_addnet_hash(dir.file("a.safetensors")) == lora_addnet_hash(dir.file("b.safetensors")));
  CHECK(a1111_lora_hashes({{"add_detail", "0123456789ab"}, {"odd:name,x", "ba9876543210"}}) ==
        "add_detail: 0123456789ab, oddnamex: ba9876543210");
  CHECK(a1111_lora_hashes({}).empty());
}
