// The names of the request vocabulary's enums (request.h): plain C++, its own library (sdw_request),
// so the HTTP parsers link it without the pipeline.
#include "model/pipeline/request.h"

namespace sdw {

const char* inpaint_fill_name(InpaintFill fill) {
  switch (fill) {
    case InpaintFill::fill: return "fill";
    case InpaintFill::original: return "original";
    case InpaintFill::latent_noise: return "latent_noise";
    case InpaintFill::latent_nothing: return "latent_nothing";
  }
  return "?";
}

std::optional<InpaintFill> parse_inpaint_fill(const std::string& name) {
  for (const InpaintFill f : {InpaintFill::fill, InpaintFill::original, InpaintFill::latent_noise, InpaintFill::latent_nothing})
    if (name == inpaint_fill_name(f)) return f;
  return std::nullopt;
}

}  // namespace sdw
