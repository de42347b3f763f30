// The rbee job field `hires` (A1111's hires fix, model/pipeline/hires_fix.h) for image_generation:
// {scale, width, height, strength, steps, upscaler, prompt, negative_prompt}, each checked with a
// 400 naming it ("hires.scale", ...), and the target size against the side limits.
#pragma once

#include "model/pipeline/request.h"
#include "net/http/validation.h"

namespace sdw::net {

// Sets r.hires from `hires` when present (r's mode, width and height already parsed).
void parse_hires(const FieldReader& fields, GenerationRequest& r, const ValidationLimits& limits);

}  // namespace sdw::net
