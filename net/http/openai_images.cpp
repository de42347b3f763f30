// OpenAI Images API <-> JobSubmission (see openai_images.h).
#include "net/http/openai_images.h"

#include <cctype>
#include <ctime>

#include "net/http/errors.h"
#include "net/http/json_body.h"

namespace sdw::net {
namespace {

// Fields this worker adds to OpenAI's (same names and rules as the rbee route's; t5 and
// max_sequence_length are SD3's, refused for other models).
const char* const kExtensions[] = {"negative_prompt", "steps",      "seed", "guidance_scale", "scheduler", "output_format",
                                   "t5",              "max_sequence_length", "vae_tiling"};
// Form fields read as numbers when their text is one, and as booleans when it is true or false.
const char* const kNumericFormFields[] = {"n", "steps", "guidance_scale", "strength", "max_sequence_length"};
const char* const kBooleanFormFields[] = {"t5", "vae_tiling"};

int parse_side(const std::string& text) {
  if (text.empty() || text.size() > 5) return -1;
  for (char c : text)
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
  return std::stoi(text);
}

// size: "WIDTHxHEIGHT" or "auto" (absent or "auto": the model's default size).
void map_size(const FieldReader& fields, nlohmann::json& rbee, const ValidationLimits& limits) {
  const auto size = fields.optional_string("size");
  if (!size || *size == "auto") return;
  const size_t x = size->find('x');
  const int w = x == std::string::npos ? -1 : parse_side(size->substr(0, x));
  const int h = x == std::string::npos ? -1 : parse_side(size->substr(x + 1));
  if (w < 0 || h < 0)
    throw invalid_field("size", "size must be \"WIDTHxHEIGHT\" (e.g. \"512x512\") or \"auto\", got \"" +
                                    size->substr(0, 40) + "\"");
  for (int side : {w, h})
    if (side < limits.min_side || side > limits.max_side || side % 8 != 0)
      throw invalid_field("size", "size: width and height must be multiples of 8 between " +
                                      std::to_string(limits.min_side) + " and " + std::to_string(limits.max_side) +
                                      ", got " + *size);
  if (static_cast<int64_t>(w) * h > limits.max_pixels)
    throw invalid_field("size", "size must be at most " + std::to_string(limits.max_pixels) + " pixels, got " + *size);
  rbee["width"] = w;
  rbee["height"] = h;
}

// The rbee image_generation Operation for OpenAI's common fields, parsed by the rbee parser.
OpenAiImageJob map_common(const nlohmann::json& body, const ParseOptions& options) {
  if (!body.is_object())
    throw ApiError(ErrorType::invalid_request, "INVALID_JSON", "request body must be a JSON object, got " + json_type(body));
  const FieldReader fields(body);
  OpenAiImageJob out;
  out.prompt = fields.required_string("prompt");
  nlohmann::json rbee = {{"operation", "image_generation"},
                         {"hive_id", "openai"},
                         {"model", fields.optional_string("model").value_or(options.model.name)},
                         {"prompt", out.prompt},
                         {"num_images", fields.integer("n", 1, 1, options.limits.max_images)}};
  out.response_format = fields.optional_string("response_format").value_or("url");
  if (out.response_format != "url" && out.response_format != "b64_json")
    throw invalid_field("response_format", "response_format must be \"url\" or \"b64_json\", got \"" +
                                               out.response_format.substr(0, 40) + "\"");
  for (const char* ignored : {"quality", "style", "user", "background", "moderation"}) fields.optional_string(ignored);
  map_size(fields, rbee, options.limits);
  for (const char* key : kExtensions)
    if (const auto* v = fields.get(key)) rbee[key] = *v;
  out.job = parse_job_request(rbee, options);
  return out;
}

const FormPart* find_part(const FormParts& form, const char* name) {
  auto it = form.find(name);
  return it == form.end() ? nullptr : &it->second;
}

Image decode_part(const FormPart& part, const std::string& field, const ValidationLimits& limits) {
  if (!part.is_file() || part.content.empty())
    throw invalid_field(field, field + " must be an image file (a multipart part with a filename)");
  try {
    return decode_image(part.content, limits.max_input_pixels);
  } catch (const ImageError& e) {
    throw ApiError(ErrorType::invalid_request, "INVALID_IMAGE", field + ": " + e.what(), field);
  }
}

bool has_transparent_pixel(const Image& image) {
  if (image.channels != 4) return false;
  for (size_t i = 3; i < image.pixels.size(); i += 4)
    if (image.pixels[i] == 0) return true;
  return false;
}

}  // namespace

OpenAiImageJob parse_openai_generation(const nlohmann::json& body, const ParseOptions& options) {
  return map_common(body, options);
}

Image mask_from_alpha(const Image& rgba, const std::string& field) {
  if (rgba.channels != 4 && rgba.channels != 2)
    throw invalid_field(field, field + " must have an alpha channel: its fully transparent pixels are the area to repaint");
  Image mask;
  mask.width = rgba.width;
  mask.height = rgba.height;
  mask.channels = 1;
  mask.pixels.resize(static_cast<size_t>(rgba.width) * rgba.height);
  for (size_t i = 0; i < mask.pixels.size(); ++i)
    mask.pixels[i] = static_cast<uint8_t>(255 - rgba.pixels[i * rgba.channels + rgba.channels - 1]);
  return mask;
}

OpenAiImageJob parse_openai_edit(const FormParts& form, const ParseOptions& options) {
  const ValidationLimits& limits = options.limits;
  nlohmann::json body = nlohmann::json::object();
  for (const auto& [name, part] : form) {
    if (part.is_file() || body.contains(name)) continue;
    body[name] = part.content;
    for (const char* numeric : kNumericFormFields) {
      if (name != numeric) continue;
      const nlohmann::json number = nlohmann::json::parse(part.content, nullptr, false);
      if (number.is_number()) body[name] = number;
    }
    for (const char* flag : kBooleanFormFields)
      if (name == flag && (part.content == "true" || part.content == "false")) body[name] = part.content == "true";
  }
  const FormPart* image_part = find_part(form, "image");
  if (!image_part) image_part = find_part(form, "image[]");
  if (!image_part) throw missing_field("image");

  OpenAiImageJob out = map_common(body, options);
  GenerationRequest& r = out.job.submission.request;
  Image init = decode_part(*image_part, "image", limits);
  Image mask;
  if (const FormPart* mask_part = find_part(form, "mask")) {
    const Image m = decode_part(*mask_part, "mask", limits);
    if (m.width != init.width || m.height != init.height)
      throw invalid_field("mask", "mask is " + std::to_string(m.width) + "x" + std::to_string(m.height) + " but image is " +
                                      std::to_string(init.width) + "x" + std::to_string(init.height) +
                                      "; they must be the same size");
    mask = mask_from_alpha(m, "mask");
  } else if (has_transparent_pixel(init)) {
    mask = mask_from_alpha(init, "image");  // OpenAI: without a mask, the image's transparency is the mask
  }
  const bool inpaint = !mask.pixels.empty();
  const FieldReader fields(body);
  if (!fields.has("size") || body["size"] == "auto") {
    r.width = r.height = 0;  // the image's size, rounded down to multiples of 8
    check_derived_size("image", init, limits);
  }
  const double strength = fields.number("strength", inpaint ? 1.0 : 0.8, 0.0, 1.0);
  if (strength <= 0) throw invalid_field("strength", "strength must be greater than 0 and at most 1, got 0");
  if (static_cast<int>(r.steps * strength) < 1)
    throw invalid_field("strength", "strength " + std::to_string(strength) + " with " + std::to_string(r.steps) +
                                        " steps leaves no denoising step; raise steps or strength");
  r.strength = strength;
  r.mode = inpaint ? GenerationMode::inpaint : GenerationMode::img2img;
  r.init_image = std::move(init);
  r.mask_image = std::move(mask);
  out.job.operation = inpaint ? "image_inpaint" : "image_transform";
  return out;
}

nlohmann::json openai_images_response(const JobEvent& complete, const OpenAiImageJob& request,
                                      const std::vector<std::string>& urls) {
  nlohmann::json data = nlohmann::json::array();
  for (size_t i = 0; i < complete.images.size(); ++i) {
    nlohmann::json item = {{"revised_prompt", request.prompt}};
    if (request.response_format == "b64_json")
      item["b64_json"] = encode_base64(complete.images[i].bytes);
    else
      item["url"] = i < urls.size() ? urls[i] : "";
    data.push_back(std::move(item));
  }
  return {{"created", static_cast<int64_t>(std::time(nullptr))}, {"data", std::move(data)}};
}

}  // namespace sdw::net
