// --model resolution and device/dtype parsing (see model_source.h).
#include "runtime/model_source.h"

#include <ATen/Context.h>

#include <filesystem>

#include "model/loading/state_dict.h"
#include "model/pipeline/demo_model.h"
#include "model/safetensors.h"

namespace fs = std::filesystem;

namespace sdw {

std::shared_ptr<SdModel> load_model(const std::string& model, const ModelLoadOptions& options) {
  const fs::path p(model);
  const bool single_file = fs::is_regular_file(p) && p.extension() == ".safetensors";
  if (!single_file && (!options.config_dir.empty() || !options.vae_file.empty()))
    throw ModelSourceError("--config and --vae apply to single-file .safetensors checkpoints only, not to '" + model + "'");
  if (!options.vae_file.empty() && !fs::is_regular_file(options.vae_file))
    throw ModelSourceError("--vae '" + options.vae_file + "' not found");
  if (model.empty() || model == "demo") return make_demo_model(options);
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
  throw ModelSourceError("model '" + model + "' not found (expected 'demo', a diffusers folder or a .safetensors file)");
}

}  // namespace sdw
