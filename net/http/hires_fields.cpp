// The `hires` job field (see hires_fields.h).
#include "net/http/hires_fields.h"

#include <stdexcept>

#include "net/http/errors.h"

namespace sdw::net {

void parse_hires(const FieldReader& fields, GenerationRequest& r, const ValidationLimits& limits) {
  const auto* hires = fields.get("hires");
  if (!hires) return;
  if (!hires->is_object())
    throw invalid_field("hires", "hires must be an object {\"scale\",\"strength\",\"steps\",\"upscaler\",...}, got " +
                                     json_type(*hires));
  if (r.mode != GenerationMode::txt2img) throw invalid_field("hires", "hires (hires fix) is for image_generation only");
  for (const auto& [key, value] : hires->items())
    if (key != "scale" && key != "width" && key != "height" && key != "strength" && key != "steps" && key != "upscaler" &&
        key != "prompt" && key != "negative_prompt")
      throw invalid_field("hires." + key, "hires: unknown field '" + key + "'");
  // The nested fields are read by their full names ("hires.scale"), so errors name them.
  nlohmann::json flat = nlohmann::json::object();
  for (const auto& [key, value] : hires->items()) flat["hires." + key] = value;
  const FieldReader h(flat);
  HiresOptions o;
  o.width = h.integer("hires.width", 0, 0, 1 << 20);
  o.height = h.integer("hires.height", 0, 0, 1 << 20);
  o.scale = h.number("hires.scale", 2.0, 1.0, 4.0);
  if (o.scale <= 1 && o.width == 0 && o.height == 0)
    throw invalid_field("hires.scale", "hires.scale must be greater than 1 and at most 4");
  o.strength = h.number("hires.strength", 0.75, 0.0, 1.0);
  if (o.strength <= 0) throw invalid_field("hires.strength", "hires.strength must be greater than 0 and at most 1");
  o.steps = h.integer("hires.steps", 0, 0, limits.max_steps);
  if (const auto upscaler = h.optional_string("hires.upscaler")) {
    try {
      o.upscaler = parse_hires_upscaler(*upscaler);
    } catch (const std::invalid_argument& e) {
      throw invalid_field("hires.upscaler", std::string("hires.upscaler: ") + e.what());
    }
  }
  o.prompt = h.optional_string("hires.prompt");
  if (o.prompt) check_prompt("hires.prompt", *o.prompt, false, limits);
  o.negative_prompt = h.optional_string("hires.negative_prompt");
  if (o.negative_prompt) check_prompt("hires.negative_prompt", *o.negative_prompt, false, limits);
  if (r.num_images != 1) throw invalid_field("hires", "hires makes one image per job; send num_images 1");
  // The target size: multiples of 8 within the worker's side and pixel limits.
  const auto [w, hgt] = hires_target_size(o, r.width, r.height);
  const char* side_field = o.width || o.height ? "hires.width" : "hires.scale";
  if (w % 8 != 0 || hgt % 8 != 0)
    throw invalid_field(side_field, std::string(side_field) + ": the hires size " + std::to_string(w) + "x" +
                                        std::to_string(hgt) + " must be a multiple of 8 on each side");
  check_side(side_field, w, limits);
  check_side(side_field, hgt, limits);
  if (static_cast<int64_t>(w) * hgt > limits.max_pixels)
    throw invalid_field(side_field, std::string(side_field) + ": the hires size " + std::to_string(w) + "x" +
                                        std::to_string(hgt) + " exceeds " + std::to_string(limits.max_pixels) + " pixels");
  r.hires = o;
}

}  // namespace sdw::net
