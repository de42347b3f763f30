// Fusing and restoring (lora_state.h) and the file cache (lora_cache.h): the base weights come
// back byte for byte, the same set twice costs nothing, sets switch, several LoRAs add up in
// order, negative strengths subtract, a refused set leaves the previous one in place, fp16/bf16
// weights get a float32 delta cast once, and prepacked oneDNN weights follow the fused ones.
#include <catch.hpp>

#include <c10/core/InferenceMode.h>

#include <filesystem>
#include <thread>

#include "model/lora/lora_cache.h"
#include "model/lora/lora_delta.h"
#include "model/lora/lora_state.h"
#include "model/nn/layers.h"
#include "model/pipeline/model_loras.h"
#include "model/safetensors/safetensors.h"
#include "test_util.h"

using namespace sdw;

namespace {

std::string lora_fixture(const std::string& name) { return test::fixture("lora/" + name); }

std::shared_ptr<SdModel> tiny_sd15() {
  static auto model = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  return model;
}

std::map<std::string, at::Tensor> snapshot(const SdModel& model) {
  std::map<std::string, at::Tensor> out;
  nn::unpack_weights(*model.unet.ptr());  // layers packed by a forward pass (nn/packed_layer.h): their plain values
  nn::unpack_weights(*model.text_encoder.ptr());
  for (const auto& p : model.unet->named_parameters()) out["unet." + p.key()] = p.value().clone();
  for (const auto& p : model.text_encoder->named_parameters()) out["te." + p.key()] = p.value().clone();
  return out;
}

bool same_bytes(const std::map<std::string, at::Tensor>& a, const std::map<std::string, at::Tensor>& b) {
  for (const auto& [k, t] : a)
    if (!at::equal(t, b.at(k))) return false;
  return a.size() == b.size();
}

// Max |(now - base) - expected| over all parameters.
double delta_error(const std::map<std::string, at::Tensor>& now, const std::map<std::string, at::Tensor>& base,
                   const std::map<std::string, at::Tensor>& expected_delta) {
  double m = 0;
  for (const auto& [k, t] : now) {
    at::Tensor d = t - base.at(k);
    auto it = expected_delta.find(k);
    if (it != expected_delta.end()) d = d - it->second;
    m = std::max(m, d.abs().max().item<double>());
  }
  return m;
}

std::map<std::string, at::Tensor> minus(const std::map<std::string, at::Tensor>& a, const std::map<std::string, at::Tensor>& b,
                                        double fa = 1, double fb = 1) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [k, t] : a) out[k] = fa * t - fb * b.at(k);
  return out;
}

// A module tree with one Conv2d (3x3) and one Linear, as LoRA parts of an "sd1" model.
struct Tiny : torch::nn::Module {
  explicit Tiny(at::ScalarType dtype) {
    const auto o = at::TensorOptions().dtype(dtype);
    conv = register_module("conv", nn::Conv2d(8, 8, 3, 1, 1, true, o));
    proj = register_module("proj", nn::Linear(16, 16, true, o));
    at::NoGradGuard g;
    conv->weight.copy_(at::randn(conv->weight.sizes()) * 0.2);  // (CPU half has no normal_)
    conv->bias.zero_();
    proj->weight.copy_(at::randn(proj->weight.sizes()) * 0.2);
    proj->bias.zero_();
  }
  nn::Conv2d conv{nullptr};
  nn::Linear proj{nullptr};
};

void write_tiny_lora(const std::string& path) {
  save_safetensors(path, {{"lora_unet_conv.lora_down.weight", at::randn({2, 8, 3, 3}) * 0.2},
                          {"lora_unet_conv.lora_up.weight", at::randn({8, 2, 1, 1}) * 0.2},
                          {"lora_unet_conv.alpha", at::scalar_tensor(1.0)},
                          {"lora_unet_proj.lora_down.weight", at::randn({2, 16}) * 0.2},
                          {"lora_unet_proj.lora_up.weight", at::randn({16, 2}) * 0.2}});
}

// max |conv(x) - at::conv2d(x, weight)| relative to the output's scale (oneDNN's prepacked
// kernels and at::conv2d differ by float32 rounding only).
double conv_error(Tiny& t, const at::Tensor& x, const at::Tensor& y) {
  const at::Tensor ref = at::conv2d(x, nn::PackedLayer::dense(t.conv->weights()), t.conv->bias, 1, 1);
  return (y - ref).abs().max().item<double>() / std::max(1.0, ref.abs().max().item<double>());
}

}  // namespace

TEST_CASE("apply, switch and clear: the base weights come back byte for byte", "[lora]") {
  auto model = tiny_sd15();
  apply_request_loras(*model, {});
  const auto base = snapshot(*model);
  const LoraUse a{lora_fixture("sd15_A.kohya.safetensors"), 1.0};
  const LoraUse b{lora_fixture("sd15_B.kohya.safetensors"), 1.0};
  LoraCache cache(int64_t{64} << 20);

  LoraApplyStats st = apply_request_loras(*model, {a}, cache);
  CHECK_FALSE(st.unchanged);
  CHECK(st.modules == 102);
  CHECK(st.tensors == 102);
  CHECK(st.saved_bytes > 0);
  const auto with_a = snapshot(*model);
  CHECK_FALSE(same_bytes(base, with_a));
  CHECK(apply_request_loras(*model, {a}, cache).unchanged);  // the same set: nothing done

  apply_request_loras(*model, {b}, cache);
  const auto with_b = snapshot(*model);
  apply_request_loras(*model, {a}, cache);
  CHECK(same_bytes(with_a, snapshot(*model)));  // back to A exactly
  CHECK((model->loras->applied() == std::vector<LoraUse>{a}));  // (no printer for LoraUse)

  st = apply_request_loras(*model, {}, cache);
  CHECK(st.tensors == 0);
  CHECK(same_bytes(base, snapshot(*model)));
  CHECK(model->loras->saved_bytes() == 0);

  // Two LoRAs add up (A first, as diffusers merges adapters in order): 0.7 dA + 0.4 dB.
  apply_request_loras(*model, {LoraUse{a.path, 0.7}, LoraUse{b.path, 0.4}}, cache);
  const auto da = minus(with_a, base), db = minus(with_b, base);
  std::map<std::string, at::Tensor> expected;
  for (const auto& [k, t] : da) expected[k] = 0.7 * t + 0.4 * db.at(k);
  CHECK(delta_error(snapshot(*model), base, expected) < 1e-6);

  // A negative strength subtracts the same delta.
  apply_request_loras(*model, {LoraUse{a.path, -1.0}}, cache);
  std::map<std::string, at::Tensor> negative;
  for (const auto& [k, t] : da) negative[k] = -t;
  CHECK(delta_error(snapshot(*model), base, negative) < 1e-6);

  // A strength or an option change is another set.
  CHECK_FALSE(apply_request_loras(*model, {LoraUse{a.path, 0.5}}, cache).unchanged);
  CHECK_FALSE(apply_request_loras(*model, {LoraUse{a.path, 0.5, true}}, cache).unchanged);
  apply_request_loras(*model, {}, cache);
  CHECK(same_bytes(base, snapshot(*model)));
}

TEST_CASE("a refused set leaves the fused set as it was", "[lora]") {
  auto model = tiny_sd15();
  const LoraUse a{lora_fixture("sd15_A.kohya.safetensors"), 1.0};
  LoraCache cache(int64_t{64} << 20);
  apply_request_loras(*model, {a}, cache);
  const auto with_a = snapshot(*model);
  CHECK_THROWS_AS(apply_request_loras(*model, {a, LoraUse{lora_fixture("sdxl_A.kohya.safetensors"), 1.0}}, cache), LoraError);
  CHECK_THROWS_AS(apply_request_loras(*model, {LoraUse{lora_fixture("missing.safetensors"), 1.0}}, cache), LoraError);
  CHECK(same_bytes(with_a, snapshot(*model)));
  CHECK((model->loras->applied() == std::vector<LoraUse>{a}));  // (no printer for LoraUse)
  apply_request_loras(*model, {}, cache);
}

TEST_CASE("a file rewritten on disk is read and fused again", "[lora]") {
  auto model = tiny_sd15();
  apply_request_loras(*model, {});
  const auto base = snapshot(*model);
  test::TempDir dir;
  const std::string path = dir.file("a.safetensors");
  std::filesystem::copy_file(lora_fixture("sd15_A.kohya.safetensors"), path);
  LoraCache cache(int64_t{64} << 20);
  apply_request_loras(*model, {LoraUse{path, 1.0}}, cache);
  const auto with_a = snapshot(*model);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a later mtime
  std::filesystem::copy_file(lora_fixture("sd15_B.kohya.safetensors"), path, std::filesystem::copy_options::overwrite_existing);
  CHECK_FALSE(apply_request_loras(*model, {LoraUse{path, 1.0}}, cache).unchanged);
  apply_request_loras(*model, {LoraUse{lora_fixture("sd15_B.kohya.safetensors"), 1.0}}, cache);
  const auto with_b = snapshot(*model);
  apply_request_loras(*model, {LoraUse{path, 1.0}}, cache);
  CHECK(same_bytes(with_b, snapshot(*model)));
  apply_request_loras(*model, {}, cache);
  CHECK(same_bytes(base, snapshot(*model)));
}

TEST_CASE("bf16 and fp16 weights: the float32 delta is cast once, then added; restore is exact", "[lora]") {
  test::TempDir dir;
  write_tiny_lora(dir.file("t.safetensors"));
  for (at::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
    INFO(c10::toString(dtype));
    auto tiny = std::make_shared<Tiny>(dtype);
    LoraModelParts parts;
    parts.family = "sd1";
    parts.unet = tiny;
    LoraState state(parts);
    const at::Tensor conv0 = tiny->conv->weight.clone(), proj0 = tiny->proj->weight.clone();
    LoraCache cache(int64_t{1} << 20);
    state.apply({LoraUse{dir.file("t.safetensors"), 0.75}}, cache);
    const LoraFile f = read_lora_file(dir.file("t.safetensors"));
    for (const LoraLayer& l : f.layers) {
      const bool is_conv = l.module == "conv";
      const at::Tensor& w0 = is_conv ? conv0 : proj0;
      const at::Tensor expected = w0 + lora_delta(l, w0.sizes(), 0.75 * l.scale(), at::kCPU).to(dtype);
      CHECK(at::equal(is_conv ? tiny->conv->weight : tiny->proj->weight, expected));
    }
    state.apply({}, cache);
    CHECK(at::equal(tiny->conv->weight, conv0));
    CHECK(at::equal(tiny->proj->weight, proj0));
  }
}

TEST_CASE("prepacked oneDNN weights follow the fused weights, also for weights made in inference mode", "[lora]") {
  if (!nn::cpu_onednn_enabled() || !nn::cpu_prepack_enabled()) return;  // no prepacked path on this build
  test::TempDir dir;
  write_tiny_lora(dir.file("t.safetensors"));
  for (bool inference : {false, true}) {
    INFO("weights made in inference mode: " << inference);
    std::shared_ptr<Tiny> tiny;
    {
      c10::InferenceMode guard(inference);
      tiny = std::make_shared<Tiny>(at::kFloat);
    }
    LoraModelParts parts;
    parts.family = "sd1";
    parts.unet = tiny;
    LoraState state(parts);
    LoraCache cache(int64_t{1} << 20);
    c10::InferenceMode guard;
    const at::Tensor x = at::randn({1, 8, 8, 8});  // 64 output pixels: the prepacked path
    const at::Tensor before = tiny->conv->forward(x);
    CHECK(conv_error(*tiny, x, before) < 1e-5);
    // One copy: the packed weight replaced the plain one (the parameter is a meta placeholder).
    CHECK(tiny->conv->packed());
    CHECK(tiny->conv->named_parameters()["weight"].device().is_meta());
    state.apply({LoraUse{dir.file("t.safetensors"), 1.0}}, cache);
    CHECK_FALSE(tiny->conv->packed());  // unpacked to be written
    const at::Tensor after = tiny->conv->forward(x);
    CHECK(tiny->conv->packed());  // packed again, with the fused weight
    CHECK(conv_error(*tiny, x, after) < 1e-5);
    CHECK((after - before).abs().max().item<double>() > 1e-2);
    state.apply({}, cache);
    CHECK(at::equal(tiny->conv->forward(x), before));
  }
}

TEST_CASE("the file cache is bounded by bytes, least recently used first", "[lora]") {
  const std::string a = lora_fixture("sd15_A.kohya.safetensors"), b = lora_fixture("sd15_B.kohya.safetensors"),
                    xl = lora_fixture("sdxl_A.kohya.safetensors");
  const int64_t size_a = static_cast<int64_t>(std::filesystem::file_size(a));
  const int64_t size_b = static_cast<int64_t>(std::filesystem::file_size(b));
  LoraCache cache(size_a + size_b);  // room for A and B, not for the SDXL file as well
  auto fa = cache.get(a);
  CHECK(cache.get(a) == fa);  // a hit: the same parsed file
  cache.get(b);
  CHECK(cache.stats().entries == 2);
  CHECK(cache.stats().bytes == size_a + size_b);
  cache.get(a);   // A is now the most recent
  cache.get(xl);  // evicts B, then A
  LoraCacheStats s = cache.stats();
  CHECK(s.entries == 1);  // the SDXL file is larger than A + B: kept alone (it is in use)
  CHECK(s.evictions == 2);
  CHECK(s.bytes <= static_cast<int64_t>(std::filesystem::file_size(xl)));
  CHECK(s.hits == 2);
  CHECK(s.misses == 3);
  cache.get(a);
  CHECK(cache.stats().misses == 4);  // read again
  CHECK(cache.stats().bytes <= cache.max_bytes());
  CHECK(fa->layers.size() == 102);  // an evicted file stays valid for whoever holds it
}
