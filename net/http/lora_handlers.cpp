// LoRA routes and checks (see lora_handlers.h).
#include "net/http/lora_handlers.h"

#include <httplib.h>

#include <filesystem>

#include "model/lora/lora_cache.h"
#include "model/lora/lora_info.h"
#include "net/http/errors.h"

namespace sdw::net {
namespace {

std::string family_name(const std::string& family) {
  if (family == "sd1") return "SD 1.x";
  if (family == "sd2") return "SD 2.x";
  if (family == "sdxl") return "SDXL";
  return family;
}

}  // namespace

void handle_loras(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  nlohmann::json data = nlohmann::json::array();
  if (ctx.config.jobs.lora_folders) {
    for (const AssetFile& file : ctx.config.jobs.lora_folders->list()) {
      nlohmann::json item = {{"name", file.name},
                             {"file", std::filesystem::path(file.path).filename().string()},
                             {"size_bytes", file.size}};
      try {
        const auto lora = default_lora_cache().get(file.path.string());
        const LoraInfo info = describe_lora(*lora);
        item["family"] = info.family;
        item["rank"] = info.rank;
        item["modules"] = info.modules;
        item["format"] = info.format;
      } catch (const std::exception& e) {
        item["error"] = e.what();
      }
      data.push_back(std::move(item));
    }
  }
  send_json(res, 200, {{"object", "list"}, {"data", data}});
}

void check_loras(ServerContext& ctx, const GenerationRequest& request) {
  if (request.loras.empty()) return;
  const std::string model_family = ctx.worker.health().family;  // "" until loaded
  for (size_t i = 0; i < request.loras.size(); ++i) {
    const std::string field = "loras";
    const std::string name = std::filesystem::path(request.loras[i].path).stem().string();
    std::shared_ptr<const LoraFile> lora;
    try {
      lora = default_lora_cache().get(request.loras[i].path);
    } catch (const std::exception& e) {
      throw ApiError(ErrorType::invalid_request, "INVALID_LORA", "LoRA '" + name + "': " + e.what(), field);
    }
    const LoraFamilyGuess guess = guess_lora_family(*lora);
    const bool comparable = model_family == "sd1" || model_family == "sd2" || model_family == "sdxl";
    if (comparable && guess.definite && guess.family != model_family)
      throw ApiError(ErrorType::invalid_request, "LORA_INCOMPATIBLE",
                     "LoRA '" + name + "' is for " + family_name(guess.family) + " models (" + guess.reason +
                         "); this worker serves a " + family_name(model_family) + " model",
                     field);
  }
}

}  // namespace sdw::net
