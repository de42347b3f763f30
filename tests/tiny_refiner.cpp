// The tiny refiner folder (see tiny_refiner.h).
#include "tiny_refiner.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "model/loading/diffusers_folder.h"
#include "model/safetensors/safetensors.h"

namespace fs = std::filesystem;

namespace sdw::test {
namespace {

void write_json(const std::string& path, const nlohmann::json& j) { std::ofstream(path) << j.dump(2); }

}  // namespace

std::string make_tiny_refiner(const TempDir& tmp) {
  const std::string tiny = fixture("pipelines/tiny-sdxl");
  const fs::path dir = tmp.file("tiny-refiner");
  fs::create_directories(dir);
  for (const char* c : {"text_encoder_2", "tokenizer_2", "vae", "scheduler"})
    fs::copy(fs::path(tiny) / c, dir / c, fs::copy_options::recursive);
  fs::create_directories(dir / "unet");
  nlohmann::json cfg = read_json_file(tiny + "/unet/config.json");
  cfg["cross_attention_dim"] = 64;                     // text_encoder_2's hidden size
  cfg["projection_class_embeddings_input_dim"] = 72;  // 5 time ids x 8 + 32 pooled
  write_json((dir / "unet/config.json").string(), cfg);
  std::map<std::string, at::Tensor> w;
  for (const auto& [n, t] : read_component_tensors(tiny + "/unet")) {
    const bool cross_kv = n.find("attn2.to_k.weight") != std::string::npos || n.find("attn2.to_v.weight") != std::string::npos;
    w[n] = cross_kv ? t.slice(1, 0, 64).contiguous() : n == "add_embedding.linear_1.weight" ? t.slice(1, 0, 72).contiguous() : t;
  }
  save_safetensors((dir / "unet/diffusion_pytorch_model.safetensors").string(), w);
  nlohmann::json index = read_json_file(tiny + "/model_index.json");
  index["_class_name"] = "StableDiffusionXLImg2ImgPipeline";
  index["text_encoder"] = {nullptr, nullptr};
  index["tokenizer"] = {nullptr, nullptr};
  index["requires_aesthetics_score"] = true;
  index["force_zeros_for_empty_prompt"] = false;
  write_json((dir / "model_index.json").string(), index);
  return dir.string();
}

}  // namespace sdw::test
