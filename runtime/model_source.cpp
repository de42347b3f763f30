// --model resolution and device/dtype parsing (see model_source.h).
#include "runtime/model_source.h"

#include <ATen/Context.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "model/loading/state_dict.h"
#include "model/pipeline/demo_model.h"
#include "model/pipeline/offload.h"
#include "model/safetensors/safetensors.h"
#include "net/hub/hub_error.h"
#include "runtime/hub_model.h"

namespace fs = std::filesystem;

namespace sdw {

namespace {

std::shared_ptr<SdModel> load_weights(const std::string& model, const ModelLoadOptions& options) {
  const fs::path p(model);
  const bool single_file = fs::is_regular_file(p) && p.extension() == ".safetensors";
  if (!single_file && (!options.config_dir.empty() || !options.vae_file.empty()))
    throw ModelSourceError("--config and --vae apply to single-file .safetensors checkpoints only, not to '" + model + "'");
  if (!options.vae_file.empty() && !fs::is_regular_file(options.vae_file))
    throw ModelSourceError("--vae '" + options.vae_file + "' not found");
  if (model.empty() || model == "demo") return make_demo_model(options);
  if (const auto ref = hub_reference_for(model)) {
    // Not a local path: a Hugging Face repo (or a catalog version's), downloaded or from the cache.
    const net::HubProgress bar = isatty(STDERR_FILENO) ? terminal_download_bar() : net::HubProgress{};
    auto note = [&model](const std::string& line) { std::cerr << "sd-worker: " << model << ": " << line << "\n"; };
    std::string folder;
    try {
      folder = resolve_hub_model(model, options.dtype, bar, note);
    } catch (const net::HubError& e) {
      throw ModelSourceError("'" + model + "' is not a local file or folder, and the Hugging Face Hub download failed: " +
                             std::string(e.what()));
    }
    try {
      auto m = load_diffusers_model(folder, options);
      m->name = ref->repo_id;
      return m;
    } catch (const LoadError& e) {
      throw ModelSourceError(e.what());
    } catch (const SafetensorsError& e) {
      throw ModelSourceError(e.what());
    }
  }
  if (fs::is_directory(p)) {
    if (!fs::exists(p / "model_index.json"))
      throw ModelSourceError("'" + model + "' is a folder but not a diffusers pipeline (no model_index.json)");
    try {
      return load_diffusers_model(model, options);
    } catch (const LoadError& e) {
      throw ModelSourceError(e.what());
    } catch (const SafetensorsError& e) {
      throw ModelSourceError(e.what());
    }
  }
  const std::string ext = p.extension().string();
  if (fs::is_regular_file(p)) {
    if (ext == ".ckpt" || ext == ".pt" || ext == ".pth" || ext == ".bin")
      throw ModelSourceError("'" + model + "' is a pickle checkpoint: refused, because loading pickle files can run "
                             "arbitrary code. Convert it to .safetensors first (e.g. with the safetensors or diffusers "
                             "conversion scripts) and pass that file.");
    if (ext == ".safetensors") {
      // A single-file checkpoint in the original LDM layout (SD1.x, SD1.x inpainting, SD2.x).
      try {
        return load_single_file_model(model, options);
      } catch (const LoadError& e) {
        throw ModelSourceError(e.what());
      } catch (const SafetensorsError& e) {
        throw ModelSourceError(e.what());
      }
    }
    throw ModelSourceError("'" + model + "' is neither a diffusers folder nor a .safetensors checkpoint");
  }
  throw ModelSourceError("model '" + model + "' not found (expected 'demo', a diffusers folder, a .safetensors file, "
                         "a Hugging Face repo id org/name[@revision] or a catalog version)");
}

}  // namespace

void apply_dtype_choice(const std::string& dtype, ModelLoadOptions& options) {
  const DtypeChoice choice = parse_dtype_choice(dtype);
  check_dtype_choice(choice, options.device);
  options.dtype = choice.dtype;
  options.fp8 = choice.fp8;
}

std::shared_ptr<SdModel> load_model(const std::string& model, const ModelLoadOptions& options) {
  // Under --offload the weights are built in host memory, then the model computes on the device.
  return load_offloaded(options, [&](const ModelLoadOptions& o) { return load_weights(model, o); });
}

}  // namespace sdw
