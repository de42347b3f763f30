// LoRAs through the pipeline (model_loras.h, stages.h), against diffusers' images: every case of
// tests/fixtures/lora/cases.json (tiny-sd15 and tiny-sdxl, kohya and PEFT files, one LoRA at 1.0
// and 0.5, two LoRAs together, LoCon 3x3 convolutions, and the unfused cross_attention_kwargs
// case) from its seed, on one model per pipeline, in the file's order, so every case also
// switches the LoRA set of the one before. Tolerances (the fixtures' README, K): float images
// 2e-5 (measured <= 1.8e-6), 8-bit pixels max difference 1; the first UNet call's
// text conditioning 1e-5 (it isolates the text-encoder LoRA).
// Then: no leakage (the base image again after LoRA jobs, byte for byte; a set again gives its
// image again, byte for byte) and the A1111 "Lora hashes" field.
#include <catch.hpp>

#include <iostream>

#include "model/image/image_io.h"
#include "model/lora/lora_hash.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/model_loras.h"
#include "model/pipeline/stages.h"
#include "seeded_cases.h"
#include "test_util.h"

using namespace sdw;

namespace {

std::string lora_fixture(const std::string& name) { return test::fixture("lora/" + name); }

GenerationRequest case_request(const nlohmann::json& c) {
  GenerationRequest req = test::seeded_request(c);
  for (const auto& l : c["loras"]) req.loras.push_back(LoraUse{lora_fixture(l["file"].get<std::string>()), l["weight"].get<double>()});
  return req;
}

struct Run {
  at::Tensor context;  // the first UNet call's encoder_hidden_states
  at::Tensor image;    // [N, H, W, 3] float
  std::vector<Image> images;
};

Run run(SdModel& model, const GenerationRequest& request) {
  const ResolvedRequest r = resolve_request(model, request);
  Run out;
  PromptEmbeddings p = encode_prompt(model, r);
  out.context = p.context;
  DenoiseState s = prepare_denoise(model, r, std::move(p));
  while (!s.done()) denoise_step(model, s);
  out.image = decode_latents(model, s.latents);
  out.images = to_images(out.image);
  return out;
}

}  // namespace

TEST_CASE("every LoRA case gives diffusers' image from its seed; sets switch without leaking", "[lora][parity]") {
  const auto cases = test::read_json(lora_fixture("cases.json"))["cases"];
  std::map<std::string, std::shared_ptr<SdModel>> models;
  std::map<std::string, std::vector<uint8_t>> first_pixels;  // case id -> our image
  for (const auto& c : cases) {
    const std::string id = c["id"];
    const std::string pipeline = c["pipeline"];
    INFO(id);
    auto& model = models[pipeline];
    if (!model) model = load_diffusers_model(test::fixture("pipelines/" + pipeline), ModelLoadOptions{});
    const Run r = run(*model, case_request(c));
    const auto& e = c["expected"][0];
    const Image expected = load_image(lora_fixture(e["png"].get<std::string>()));
    const int pixel_diff = test::max_pixel_diff(r.images.at(0), expected);
    const at::Tensor ref = SafetensorsFile::open(lora_fixture(e["float"].get<std::string>())).get("image");
    const double float_diff = (r.image[0] - ref).abs().max().item<double>();
    std::cout << "lora case " << id << ": max pixel diff " << pixel_diff << ", float image max |diff| " << float_diff;
    if (c.contains("debug") && (id == "sd15_A_kohya_s1" || id == "xl_A_kohya_s1")) {
      const at::Tensor ctx = SafetensorsFile::open(lora_fixture(c["debug"].get<std::string>())).get("unet_in_encoder_hidden_states");
      const double ctx_diff = (r.context.to(at::kFloat) - ctx).abs().max().item<double>();
      std::cout << ", text conditioning max |diff| " << ctx_diff;
      CHECK(ctx_diff < 1e-5);
    }
    std::cout << "\n";
    CHECK(pixel_diff <= 1);
    CHECK(float_diff < 2e-5);
    first_pixels[id] = r.images.at(0).pixels;
  }
  // No leakage: after all those sets, the base images again byte for byte; a LoRA set again
  // (after another set) gives its own image again byte for byte.
  for (const char* id : {"sd15_nolora", "xl_nolora", "sd15_A07_B04", "sd15_B_kohya_s1", "xl_A_kohya_s05", "xl_nolora"}) {
    INFO(id);
    for (const auto& c : cases)
      if (c["id"] == id) CHECK(run(*models[c["pipeline"]], case_request(c)).images.at(0).pixels == first_pixels[id]);
  }
}

TEST_CASE("generate applies the request's LoRAs, records A1111's Lora hashes, and a LoRA-less job after it is the base", "[lora][parity]") {
  auto model = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  const auto cases = test::read_json(lora_fixture("cases.json"))["cases"];
  auto find = [&](const std::string& id) {
    for (const auto& c : cases)
      if (c["id"] == id) return c;
    FAIL("no case " << id);
    return nlohmann::json();
  };
  const GenerationRequest base = case_request(find("sd15_nolora"));
  const GenerationRequest with = case_request(find("sd15_A07_B04"));
  const GenerationResult r0 = generate(*model, base);
  const GenerationResult r1 = generate(*model, with);
  const GenerationResult r2 = generate(*model, base);
  CHECK(r2.images.at(0).pixels == r0.images.at(0).pixels);
  CHECK(test::max_pixel_diff(r1.images.at(0), load_image(lora_fixture("sd15_A07_B04.png"))) <= 1);
  const std::string text = r1.parameters_text("tiny-sd15", with);
  CHECK_THAT(text, Catch::Contains("Lora hashes: \"sd15_A.kohya: " + lora_short_hash(with.loras[0].path) +
                                   ", sd15_B.kohya: " + lora_short_hash(with.loras[1].path) + "\""));
  CHECK_THAT(r0.parameters_text("tiny-sd15", base), !Catch::Contains("Lora hashes"));
}
