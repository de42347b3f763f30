// Parity on an accelerator (label `gpu`, outside the default run): the fixtures' reference
// tensors and seeded images, computed on the device named by SDW_TEST_DEVICE (default cuda:0),
// in fp32 with TF32 off (as on the CPU, with GPU reduction orders: tolerance 1e-4 against
// fixtures whose own float32 noise is ~1.2e-6), and the UNet in fp16 / bf16 within stated
// bounds relative to the output's magnitude. bench/gpu_check.sh runs it on a GPU machine.
// The UNet step as a CUDA graph is checked against the eager step (on the CPU: that the runner
// stays eager and equal). `SDW_TEST_DEVICE=cpu` runs the same checks on the CPU (fp32 and bf16; libtorch has no fp16
// convolution kernels on the CPU, so fp16 is checked on accelerators only). Also SD3's transformer
// and a seeded SD3 image, CPU offload (model and sequential) against the plain model on the
// device (the same images, with the weights' copies counted), and --dtype fp8's UNet within a
// stated bound (a GPU with fp8 and a libtorch that has it; elsewhere: refused).
#include <catch.hpp>

#include <ATen/Context.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "model/nn/device_names.h"
#include "model/image/image_io.h"
#include "model/loading/diffusers_folder.h"
#include "model/nn/fp8_linear.h"
#include "model/nn/weight_stream.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/offload.h"
#include "model/pipeline/sd3_components.h"
#include "model/pipeline/rng.h"
#include "model/pipeline/sd_model.h"
#include "seeded_cases.h"
#include "test_util.h"

using namespace sdw;

namespace {

constexpr double kFp32Tol = 1e-4;
// Half precision: max |error| / max |reference| of the UNet output.
constexpr double kFp16RelTol = 5e-3;
constexpr double kBf16RelTol = 4e-2;

at::Device test_device() {
  const char* env = std::getenv("SDW_TEST_DEVICE");
  const std::string name = env && *env ? env : "cuda:0";
  at::Device d = parse_device(name);  // throws on a device this build lacks: a clear failure
  at::globalContext().setAllowTF32CuBLAS(false);
  at::globalContext().setAllowTF32CuDNN(false);
  return d;
}

// The pipelines to check: all four by default; SDW_GPU_PIPELINES (comma-separated) narrows the
// list where a device machine receives only some fixtures (its working-tree copy is size-limited).
std::vector<std::string> pipelines(std::vector<std::string> all) {
  const char* env = std::getenv("SDW_GPU_PIPELINES");
  if (!env || !*env) return all;
  const std::string allow = std::string(",") + env + ",";
  std::vector<std::string> kept;
  for (const auto& p : all)
    if (allow.find("," + p + ",") != std::string::npos) kept.push_back(p);
  std::cout << "SDW_GPU_PIPELINES=" << env << ": checking " << kept.size() << " of " << all.size() << " pipelines\n";
  REQUIRE(!kept.empty());
  return kept;
}

// Whether SDW_GPU_PIPELINES (if set) names `pipeline`; says so when it does not.
bool wanted(const std::string& pipeline) {
  const char* env = std::getenv("SDW_GPU_PIPELINES");
  if (!env || !*env || (std::string(",") + env + ",").find("," + pipeline + ",") != std::string::npos) return true;
  std::cout << "SDW_GPU_PIPELINES=" << env << ": " << pipeline << " not checked in this run\n";
  return false;
}

at::TensorOptions opts(const at::Device& d, at::ScalarType t) { return at::TensorOptions().device(d).dtype(t); }

double unet_error(const std::string& pipeline, const at::Device& dev, at::ScalarType dtype, double* ref_max) {
  at::NoGradGuard no_grad;
  auto ref = SafetensorsFile::open(test::fixture("references/" + pipeline + ".safetensors"));
  auto unet = load_unet(test::fixture("pipelines/" + pipeline + "/unet"), opts(dev, dtype));
  UNetAddedCond added;
  if (ref.contains("unet.added_text_embeds")) {
    added.text_embeds = ref.get("unet.added_text_embeds").to(dev, dtype);
    added.time_ids = ref.get("unet.added_time_ids").to(dev, dtype);
  }
  at::Tensor out = unet->forward(ref.get("unet.sample").to(dev, dtype), ref.get("unet.timesteps_int").to(dev),
                                 ref.get("unet.encoder_hidden_states").to(dev, dtype), added);
  auto d = test::compare(out.to(at::kCPU, at::kFloat), ref.get("unet.out_int"));
  std::cout << test::describe(pipeline + " unet on " + dev.str() + " " + std::string(c10::toString(dtype)), d) << "\n";
  if (ref_max) *ref_max = d.ref_max_abs;
  return d.max_abs;
}

}  // namespace

TEST_CASE("fp32 on the device: text encoder, UNet and VAE match the fixtures", "[gpu][parity]") {
  const at::Device dev = test_device();
  at::NoGradGuard no_grad;
  for (const std::string& pipeline : pipelines({"tiny-sd15", "tiny-sd21v", "tiny-sd15-inpaint", "tiny-sdxl"})) {
    CHECK(unet_error(pipeline, dev, at::kFloat, nullptr) < kFp32Tol);
    auto ref = SafetensorsFile::open(test::fixture("references/" + pipeline + ".safetensors"));
    auto te = load_text_encoder(test::fixture("pipelines/" + pipeline + "/text_encoder"), opts(dev, at::kFloat));
    auto out = te->forward(ref.get("text_encoder.input_ids").to(dev));
    auto d = test::compare(out.last_hidden_state.to(at::kCPU), ref.get("text_encoder.last_hidden_state"));
    std::cout << test::describe(pipeline + " text encoder on " + dev.str(), d) << "\n";
    CHECK(d.max_abs < kFp32Tol);
    if (!ref.contains("vae.decode.latents_scaled")) continue;
    auto vae = load_vae(test::fixture("pipelines/" + pipeline + "/vae"), opts(dev, at::kFloat));
    at::Tensor image = vae->decode(ref.get("vae.decode.latents_scaled").to(dev) / vae->config().scaling_factor);
    d = test::compare(image.to(at::kCPU), ref.get("vae.decode.image"));
    std::cout << test::describe(pipeline + " vae decode on " + dev.str(), d) << "\n";
    CHECK(d.max_abs < kFp32Tol);
  }
}

TEST_CASE("half precision on the device: the UNet within stated bounds", "[gpu][parity]") {
  const at::Device dev = test_device();
  std::vector<std::pair<at::ScalarType, double>> cases = {{at::kBFloat16, kBf16RelTol}};
  if (!dev.is_cpu()) cases.push_back({at::kHalf, kFp16RelTol});
  for (const auto& [dtype, tol] : cases) {
    for (const std::string& pipeline : pipelines({"tiny-sd15", "tiny-sd21v", "tiny-sdxl"})) {
      double ref_max = 0;
      const double err = unet_error(pipeline, dev, dtype, &ref_max);
      CHECK(err / ref_max < tol);
    }
  }
}

TEST_CASE("seeded images on the device equal diffusers' PNGs (fp32)", "[gpu][parity][seeded]") {
  const at::Device dev = test_device();
  const auto cases = test::read_json(test::fixture("seeded/cases.json"));
  ModelLoadOptions lo;
  lo.device = dev;
  std::map<std::string, std::shared_ptr<SdModel>> models;
  std::vector<std::string> all;
  for (const auto& c : cases["cases"]) all.push_back(c["pipeline"]);
  const std::vector<std::string> wanted = pipelines(all);
  int checked = 0;
  for (const auto& c : cases["cases"]) {
    if (c["mode"] != "txt2img" || !c["init_image"].is_null()) continue;
    const std::string pipeline = c["pipeline"];
    if (std::find(wanted.begin(), wanted.end(), pipeline) == wanted.end()) continue;
    if (!models.count(pipeline)) models[pipeline] = load_diffusers_model(test::fixture("pipelines/" + pipeline), lo);
    const GenerationRequest req = test::seeded_request(c);
    GenerationResult result = generate(*models[pipeline], req);
    INFO(c["id"].get<std::string>());
    REQUIRE(result.images.size() == c["expected"].size());
    for (size_t k = 0; k < result.images.size(); ++k) {
      const Image expected = load_image(test::fixture("seeded/" + c["expected"][k]["png"].get<std::string>()));
      const int max_diff = test::max_pixel_diff(result.images[k], expected);
      std::cout << c["id"].get<std::string>() << " on " << dev.str() << ": max pixel diff " << max_diff << "\n";
      CHECK(max_diff <= 1);
    }
    ++checked;
  }
  CHECK(checked >= 3);
}

TEST_CASE("the UNet step replayed as a CUDA graph equals the eager step", "[gpu][parity][graph]") {
  const at::Device dev = test_device();
  c10::InferenceMode guard;
  // fp16 on CUDA (the serving precision); fp32 on the CPU, which has no fp16 convolutions.
  const at::ScalarType dtype = dev.is_cuda() ? at::kHalf : at::kFloat;
  auto unet = load_unet(test::fixture("pipelines/tiny-sd15/unet"), opts(dev, dtype));
  UNetRunner runner(unet, /*use_graphs=*/true);
  at::Generator gen = make_cpu_generator(7);
  auto input = [&](int64_t batch) {
    return at::randn({batch, 4, 8, 8}, gen, at::kFloat).to(dev, dtype);  // [B, 4, h, w]
  };
  const at::Tensor ctx2 = at::randn({2, 77, 32}, gen, at::kFloat).to(dev, dtype);
  auto eager = [&](const at::Tensor& x, double t, const at::Tensor& ctx) {
    return unet->forward(x, at::scalar_tensor(t, at::kDouble), ctx).to(at::kCPU, at::kFloat);
  };
  // Three steps of one shape (capture on the first, replays after), with new inputs each time:
  // a stale buffer or a baked-in timestep would give the first step's output again.
  at::Tensor first;
  const std::vector<double> ts = {999.0, 500.0, 21.0};
  for (size_t i = 0; i < ts.size(); ++i) {
    const at::Tensor x = input(2);
    const at::Tensor got = runner.forward(x, ts[i], ctx2).to(at::kCPU, at::kFloat);
    const at::Tensor want = eager(x, ts[i], ctx2);
    auto d = test::compare(got, want);
    std::cout << test::describe("graph vs eager step " + std::to_string(i) + " on " + dev.str(), d) << "\n";
    // Same kernels, same inputs: equal up to half-precision rounding of the output.
    CHECK(d.max_abs <= (dtype == at::kHalf ? 2e-3 : 0.0) * std::max(1.0, d.ref_max_abs));
    if (i == 0) first = got;
    else CHECK((got - first).abs().max().item<double>() > 1e-2);
  }
  // A second shape (no CFG: batch 1) gets its own graph.
  const at::Tensor x1 = input(1);
  const at::Tensor ctx1 = ctx2.slice(0, 0, 1);
  auto d1 = test::compare(runner.forward(x1, 300.0, ctx1).to(at::kCPU, at::kFloat), eager(x1, 300.0, ctx1));
  CHECK(d1.max_abs <= (dtype == at::kHalf ? 2e-3 : 0.0) * std::max(1.0, d1.ref_max_abs));
  const UNetRunnerStats s = runner.stats();
  std::cout << "UNet runner on " << dev.str() << ": " << s.mode << ", " << s.graphs << " graphs, " << s.replays
            << " replays, " << s.eager_calls << " eager\n";
  if (dev.is_cuda() && UNetRunner::graphs_supported()) {
    CHECK(s.mode == "cuda graph");
    CHECK(s.graphs == 2);
    CHECK(s.replays == 4);
    CHECK(s.eager_calls == 0);
    CHECK(s.failed_captures == 0);
  } else {
    CHECK(s.mode == "eager (" + dev.str() + ")");
    CHECK(s.replays == 0);
    CHECK(s.eager_calls == 4);
  }
}

TEST_CASE("SD3 on the device: the transformer and a seeded image match diffusers", "[gpu][parity][sd3]") {
  const at::Device dev = test_device();
  if (!wanted("tiny-sd3")) return;
  at::NoGradGuard no_grad;
  auto ref = SafetensorsFile::open(test::fixture("references/tiny-sd3.safetensors"));
  std::vector<std::pair<at::ScalarType, double>> cases = {{at::kFloat, 0.0}, {at::kBFloat16, kBf16RelTol}};
  if (!dev.is_cpu()) cases.push_back({at::kHalf, kFp16RelTol});
  for (const auto& [dtype, rel_tol] : cases) {
    auto model = load_sd3_transformer(test::fixture("pipelines/tiny-sd3/transformer"), opts(dev, dtype));
    const std::string p = "transformer.";
    at::Tensor out = model->forward(ref.get(p + "hidden_states").to(dev, dtype), ref.get(p + "encoder_hidden_states").to(dev, dtype),
                                    ref.get(p + "pooled_projections").to(dev, dtype), ref.get(p + "timestep").to(dev));
    auto d = test::compare(out.to(at::kCPU, at::kFloat), ref.get(p + "out"));
    std::cout << test::describe("tiny-sd3 transformer on " + dev.str() + " " + c10::toString(dtype), d) << "\n";
    if (dtype == at::kFloat) CHECK(d.max_abs < kFp32Tol);
    else CHECK(d.max_abs / d.ref_max_abs < rel_tol);
  }
  // The first seeded SD3 case (T5, CFG) through the whole pipeline in fp32.
  const auto sd3_cases = test::read_json(test::fixture("sd3/cases.json"));
  const auto& c = sd3_cases["cases"][0];
  ModelLoadOptions lo;
  lo.device = dev;
  auto m = load_diffusers_model(test::fixture("pipelines/tiny-sd3"), lo);
  REQUIRE(c["mode"] == "txt2img");
  const GenerationRequest r = test::seeded_sd3_request(c);
  const GenerationResult result = generate(*m, r);
  const Image expected = load_image(test::fixture("sd3/" + c["expected"][0]["png"].get<std::string>()));
  const int diff = test::max_pixel_diff(result.images[0], expected);
  std::cout << c["id"].get<std::string>() << " on " << dev.str() << ": max pixel diff " << diff << "\n";
  CHECK(diff <= 1);
}

TEST_CASE("CPU offload on the device gives the plain model's images", "[gpu][parity][offload]") {
  const at::Device dev = test_device();
  const auto cases = test::read_json(test::fixture("seeded/cases.json"));
  const nlohmann::json* txt2img = nullptr;
  for (const auto& c : cases["cases"])
    if (c["pipeline"] == "tiny-sd15" && c["mode"] == "txt2img" && c["init_image"].is_null() && !txt2img) txt2img = &c;
  REQUIRE(txt2img);
  const GenerationRequest req = test::seeded_request(*txt2img);
  ModelLoadOptions lo;
  lo.device = dev;
  auto plain = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), lo);
  const Image want = generate(*plain, req).images[0];
  for (const OffloadMode mode : {OffloadMode::model, OffloadMode::sequential}) {
    ModelLoadOptions o = lo;
    o.memory.offload = mode;
    auto m = load_offloaded(o, [](const ModelLoadOptions& w) {
      return load_diffusers_model(test::fixture("pipelines/tiny-sd15"), w);
    });
    for (const auto& p : m->unet->parameters()) CHECK(p.device().is_cpu());  // until a step needs it
    const int64_t streamed = nn::streamed_weight_bytes();
    const Image got = generate(*m, req).images[0];
    const int diff = test::max_pixel_diff(got, want);
    const ModelOffload::Stats st = m->offload->stats();
    std::cout << "offload " << offload_mode_name(mode) << " on " << dev.str() << ": max pixel diff " << diff << ", "
              << st.bytes_to_device << " bytes to the device, " << st.bytes_to_host << " back, "
              << (nn::streamed_weight_bytes() - streamed) << " streamed by layers\n";
    CHECK(diff <= 1);
    if (dev.is_cpu()) continue;  // nothing moves on the CPU (test_offload checks the order there)
    if (mode == OffloadMode::model) {
      CHECK(st.bytes_to_device > 0);
      CHECK(st.bytes_to_host > 0);
      for (const auto& p : m->vae->parameters()) CHECK(p.device() == dev);  // the last stage's part stays
      for (const auto& p : m->unet->parameters()) CHECK(p.device().is_cpu());
    } else {
      CHECK(nn::streamed_weight_bytes() - streamed > 0);
      for (const auto& p : m->unet->parameters()) CHECK(p.device().is_cpu());
    }
  }
}

TEST_CASE("fp8 UNet on the device: near the fixtures, and an image near fp16's", "[gpu][parity][fp8]") {
  const at::Device dev = test_device();
  ModelLoadOptions o;
  o.device = dev;
  o.dtype = at::kHalf;
  o.fp8 = true;
  if (!dev.is_cuda() || !nn::fp8_compiled()) {  // refused at load (test_fp8_linear checks the words)
    std::cout << "fp8 on " << dev.str() << ": " << (nn::fp8_compiled() ? "no CUDA" : "not in this build") << "\n";
    CHECK_THROWS_AS(load_diffusers_model(test::fixture("pipelines/tiny-sd15"), o), std::invalid_argument);
    return;
  }
  {
    at::NoGradGuard no_grad;
    auto ref = SafetensorsFile::open(test::fixture("references/tiny-sd15.safetensors"));
    auto unet = load_unet(test::fixture("pipelines/tiny-sd15/unet"), opts(dev, at::kHalf));
    const int64_t layers = nn::quantize_linears_fp8(*unet);
    at::Tensor out = unet->forward(ref.get("unet.sample").to(dev, at::kHalf), ref.get("unet.timesteps_int").to(dev),
                                   ref.get("unet.encoder_hidden_states").to(dev, at::kHalf));
    auto d = test::compare(out.to(at::kCPU, at::kFloat), ref.get("unet.out_int"));
    std::cout << test::describe("tiny-sd15 unet fp8 (" + std::to_string(layers) + " Linear layers) on " + dev.str(), d)
              << "\n";
    CHECK(layers > 0);
    // e4m3 keeps 3 mantissa bits: a loose bound that catches a wrong scale or transpose (errors of
    // the output's own size); the measured figure is printed above.
    CHECK(d.max_abs / d.ref_max_abs < 0.25);
  }
  // The first seeded tiny-sd15 txt2img case, fp8 against fp16 on the same device.
  const auto cases = test::read_json(test::fixture("seeded/cases.json"));
  for (const auto& c : cases["cases"]) {
    if (c["pipeline"] != "tiny-sd15" || c["mode"] != "txt2img" || !c["init_image"].is_null()) continue;
    const GenerationRequest req = test::seeded_request(c);
    ModelLoadOptions half = o;
    half.fp8 = false;
    const Image want = generate(*load_diffusers_model(test::fixture("pipelines/tiny-sd15"), half), req).images[0];
    const Image got = generate(*load_diffusers_model(test::fixture("pipelines/tiny-sd15"), o), req).images[0];
    double mean = 0;
    for (size_t i = 0; i < got.pixels.size(); ++i) mean += std::abs(int(got.pixels[i]) - int(want.pixels[i]));
    mean /= static_cast<double>(got.pixels.size());
    std::cout << c["id"].get<std::string>() << " fp8 vs fp16 on " << dev.str() << ": max pixel diff "
              << test::max_pixel_diff(got, want) << ", mean " << mean << "\n";
    CHECK(mean < 20.0);  // the same picture, not noise (the figures printed are the measurement)
    break;
  }
}
