// Hires fix upscaler names (see hires_options.h).
#include "model/pipeline/hires_options.h"

#include <stdexcept>

namespace sdw {

const char* hires_upscaler_name(HiresUpscaler upscaler) {
  switch (upscaler) {
    case HiresUpscaler::latent: return "Latent";
    case HiresUpscaler::latent_nearest: return "Latent (nearest)";
    case HiresUpscaler::lanczos: return "Lanczos";
  }
  return "Latent";
}

HiresUpscaler parse_hires_upscaler(const std::string& name) {
  if (name == "latent" || name == "Latent") return HiresUpscaler::latent;
  if (name == "latent-nearest" || name == "Latent (nearest)") return HiresUpscaler::latent_nearest;
  if (name == "lanczos" || name == "Lanczos") return HiresUpscaler::lanczos;
  throw std::invalid_argument("unknown hires upscaler '" + name +
                              "'; this worker has latent (A1111's \"Latent\"), latent-nearest (\"Latent (nearest)\") "
                              "and lanczos (\"Lanczos\")");
}

}  // namespace sdw
