// AUTOMATIC1111 API requests <-> jobs (see a1111_requests.h).
#include "net/http/a1111_requests.h"

#include <cctype>
#include <optional>
#include <random>
#include <regex>

#include "model/image/gaussian_blur.h"
#include "model/image/mask_overlay.h"
#include "model/image/pil_resize.h"
#include "model/prompt/a1111_prompt.h"
#include "model/schedulers/scheduler.h"
#include "net/http/a1111_controlnet.h"
#include "net/http/errors.h"

namespace sdw::net {
namespace {

constexpr int kMaxIterations = 16;

// The rbee field -> A1111's, for errors the rbee parser raises.
const std::pair<const char*, const char*> kRenames[] = {
    {"guidance_scale", "cfg_scale"}, {"num_images", "batch_size"},
    {"input_image", "init_images"},  {"init_image", "init_images"},
    {"mask_image", "mask"},          {"strength", "denoising_strength"},
    {"clip_skip", "override_settings.CLIP_stop_at_last_layers"}, {"scheduler", "sampler_name"},
    {"t5", "override_settings.sd3_enable_t5"},
    {"hires", "enable_hr"}, {"hires.scale", "hr_scale"}, {"hires.width", "hr_resize_x"},
    {"hires.strength", "denoising_strength"}, {"hires.steps", "hr_second_pass_steps"}};

ApiError renamed(const ApiError& e) {
  for (const auto& [rbee, a1111] : kRenames) {
    if (e.param() != rbee) continue;
    std::string message = e.what();
    if (message.rfind(rbee, 0) == 0) message = a1111 + message.substr(std::string(rbee).size());
    return ApiError(e.type(), e.code(), message, a1111);
  }
  return e;
}

uint64_t random_seed() {
  std::random_device rd;
  return rd() % 4294967294u;  // A1111: random.randrange(4294967294)
}

// sampler_name (+ A1111 1.9's separate `scheduler`: Automatic or Karras) -> the rbee scheduler.
std::string sampler_of(const FieldReader& fields) {
  std::string name = fields.optional_string("sampler_name").value_or(fields.optional_string("sampler_index").value_or(""));
  const std::string schedule = fields.optional_string("scheduler").value_or("automatic");
  std::string lower = schedule;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "karras" && !name.empty()) return name + " Karras";
  if (lower != "automatic" && lower != "karras")
    throw invalid_field("scheduler", "scheduler must be \"Automatic\" or \"Karras\" (GET /sdapi/v1/schedulers), got \"" +
                                         schedule.substr(0, 40) + "\"");
  return name;
}

// txt2img's hires fix fields (enable_hr true) -> the rbee `hires` object, A1111's defaults:
// hr_scale 2, denoising_strength 0.75, hr_upscaler "Latent", hr_second_pass_steps 0 (the first
// pass's), hr_resize_x / hr_resize_y 0 (from hr_scale), hr_prompt / hr_negative_prompt "" (the
// first pass's).
nlohmann::json a1111_hires(const FieldReader& fields, const ParseOptions& options) {
  nlohmann::json h = {{"scale", fields.number("hr_scale", 2.0, 1.0, 4.0)},
                      {"strength", fields.number("denoising_strength", 0.75, 0.0, 1.0)},
                      {"steps", fields.integer("hr_second_pass_steps", 0, 0, options.limits.max_steps)}};
  const std::string upscaler = fields.optional_string("hr_upscaler").value_or("Latent");
  if (upscaler != "Latent" && upscaler != "Latent (nearest)" && upscaler != "Lanczos")
    throw invalid_field("hr_upscaler", "hr_upscaler \"" + upscaler.substr(0, 60) +
                                           "\" is not available on this worker; it has \"Latent\", \"Latent (nearest)\" "
                                           "and \"Lanczos\"");
  h["upscaler"] = upscaler;
  const int x = fields.integer("hr_resize_x", 0, 0, 1 << 20), y = fields.integer("hr_resize_y", 0, 0, 1 << 20);
  if (x) h["width"] = x;
  if (y) h["height"] = y;
  for (const char* field : {"hr_prompt", "hr_negative_prompt"}) {
    const std::string text = fields.optional_string(field).value_or("");
    if (text.empty()) continue;  // A1111: "" is the first pass's prompt
    try {
      parse_prompt_attention(text);
    } catch (const std::invalid_argument& e) {
      throw invalid_field(field, std::string(field) + ": " + e.what());
    }
    h[std::string(field) == "hr_prompt" ? "prompt" : "negative_prompt"] = text;
  }
  return h;
}

// A unit whose resize_mode crops or pads ("Crop and Resize", the default, or "Resize and Fill")
// runs as the plain resize the pipeline does, which is the same image only at the output's aspect.
void check_control_aspect(const A1111ControlNets& units, const GenerationRequest& r) {
  for (size_t k = 0; k < units.same_aspect.size() && k < r.controlnets.size(); ++k) {
    const Image& c = r.controlnets[k].image;
    if (!units.same_aspect[k] || r.width <= 0 || r.height <= 0 ||
        static_cast<int64_t>(c.width) * r.height == static_cast<int64_t>(c.height) * r.width)
      continue;
    const std::string field = "alwayson_scripts.controlnet.args[" + std::to_string(units.arg_index[k]) + "].resize_mode";
    throw invalid_field(field, field + ": the control image is " + std::to_string(c.width) + "x" + std::to_string(c.height) +
                                   " and the output " + std::to_string(r.width) + "x" + std::to_string(r.height) +
                                   "; this worker resizes control images without cropping or padding: send \"Just Resize\" "
                                   "or a control image of the output's aspect ratio");
  }
}

A1111Request parse_common(const nlohmann::json& body, const ParseOptions& options, bool img2img) {
  if (!body.is_object())
    throw ApiError(ErrorType::invalid_request, "INVALID_JSON", "request body must be a JSON object, got " + json_type(body));
  const FieldReader fields(body);
  A1111Request out;
  out.img2img = img2img;
  if (img2img && fields.boolean("enable_hr", false))
    throw invalid_field("enable_hr", "enable_hr (hires fix) is a txt2img field; send enable_hr false");

  // 1. A1111's defaults under its names
  const std::string prompt = fields.optional_string("prompt").value_or("");
  const std::string negative = fields.optional_string("negative_prompt").value_or("");
  for (const auto& [field, text] : {std::pair<const char*, const std::string*>{"prompt", &prompt}, {"negative_prompt", &negative}}) {
    try {
      parse_prompt_attention(*text);  // A1111's syntax, read again when the prompt is encoded
    } catch (const std::invalid_argument& e) {
      throw invalid_field(field, std::string(field) + ": " + e.what());
    }
  }
  const int steps = fields.integer("steps", 50, 1, options.limits.max_steps);
  const double cfg = fields.number("cfg_scale", 7.0, 0.0, options.limits.max_guidance);
  const int width = fields.integer("width", 512, 0, 1 << 20);
  const int height = fields.integer("height", 512, 0, 1 << 20);
  out.batch_size = fields.integer("batch_size", 1, 1, options.limits.max_images);
  out.n_iter = fields.integer("n_iter", 1, 1, kMaxIterations);
  out.sampler_name = sampler_of(fields);
  const auto* seed = fields.get("seed");
  if (!seed || (seed->is_number_integer() && !seed->is_number_unsigned() && seed->get<int64_t>() == -1)) {
    out.seed = random_seed();
  } else {
    const auto given = fields.seed("seed");
    out.seed = *given;
  }
  int clip_skip = 1;
  std::optional<bool> rbee_t5;
  if (const auto* overrides = fields.get("override_settings")) {
    if (!overrides->is_object()) throw invalid_field("override_settings", "override_settings must be an object");
    const FieldReader o(*overrides);
    clip_skip = o.integer("CLIP_stop_at_last_layers", 1, 1, options.limits.max_clip_skip);
    // A1111's "Enable T5" (SD3): false leaves T5 out (its prompt part zeros, as A1111 does). Not
    // given: T5 when the model has it (A1111's default is off). SD3 models only, like the rbee `t5`.
    if (const auto* v = o.get("sd3_enable_t5")) {
      if (!v->is_boolean())
        throw invalid_field("override_settings.sd3_enable_t5", "override_settings.sd3_enable_t5 must be true or false");
      rbee_t5 = v->get<bool>();
    }
    if (const auto checkpoint = o.optional_string("sd_model_checkpoint"); checkpoint && !options.model.accepts(*checkpoint))
      throw ApiError(ErrorType::invalid_request, "MODEL_NOT_FOUND",
                     "override_settings.sd_model_checkpoint '" + *checkpoint + "' is not served here; this worker serves " +
                         options.model.describe(),
                     "override_settings.sd_model_checkpoint");
  }

  // 2. the rbee Operation
  nlohmann::json rbee = {{"operation", "image_generation"}, {"hive_id", "a1111"}, {"model", options.model.name},
                         {"prompt", prompt}, {"steps", steps},
                         {"guidance_scale", cfg}, {"width", width}, {"height", height},
                         {"num_images", out.batch_size}, {"clip_skip", clip_skip}, {"output_format", "png"}};
  if (fields.has("negative_prompt")) rbee["negative_prompt"] = negative;
  if (rbee_t5) rbee["t5"] = *rbee_t5;
  if (!img2img && fields.boolean("enable_hr", false)) rbee["hires"] = a1111_hires(fields, options);
  if (!out.sampler_name.empty()) rbee["scheduler"] = out.sampler_name;
  if (img2img) {
    const auto* images = fields.get("init_images");
    if (!images) throw missing_field("init_images");
    if (!images->is_array() || images->empty() || !(*images)[0].is_string())
      throw invalid_field("init_images", "init_images must be a non-empty array of base64 images (the first is used)");
    out.denoising_strength = fields.number("denoising_strength", 0.75, 0.0, 1.0);
    rbee["strength"] = out.denoising_strength;
    const auto mask = fields.optional_string("mask");
    rbee["operation"] = mask ? "image_inpaint" : "image_transform";
    rbee[mask ? "init_image" : "input_image"] = (*images)[0];
    if (mask) rbee["mask_image"] = *mask;
    // A1111's masked content, 0 fill, 1 original, 2 latent noise, 3 latent nothing (InpaintFill,
    // in that order); without a mask it does nothing, as in A1111.
    const int fill = fields.integer("inpainting_fill", 1, 0, 3);
    if (mask) rbee["inpaint_fill"] = inpaint_fill_name(static_cast<InpaintFill>(fill));
    out.mask_invert = fields.integer("inpainting_mask_invert", 0, 0, 1) == 1;
    out.mask_blur = fields.integer("mask_blur", 4, 0, 64);
  }

  // sd-webui-controlnet's units, as the rbee job's controlnets (a1111_controlnet.h)
  const A1111ControlNets units = parse_a1111_controlnets(body);
  if (!units.empty()) rbee["controlnets"] = units.controlnets;
  if (units.guess_mode) rbee["guess_mode"] = true;

  // 3. validated by the rbee parser, one job per image: A1111 draws each image of a batch from its
  // own seed (processing.py: all_seeds = [seed + x for x in range(n_iter * batch_size)]), so image
  // k is the image of seed + k alone, and its infotext says so
  rbee["num_images"] = 1;
  ParseOptions a1111_options = options;
  a1111_options.allow_empty_prompt = true;  // A1111 takes "" as a prompt
  for (int k = 0; k < out.n_iter * out.batch_size; ++k) {
    rbee["seed"] = out.seed + static_cast<uint64_t>(k);
    try {
      out.iterations.push_back(parse_job_request(rbee, a1111_options));
    } catch (const ApiError& e) {
      throw renamed(renamed_controlnet_error(e, units));
    }
    out.iterations.back().submission.request.prompt_syntax = PromptSyntax::a1111;  // A1111's weights and chunks
  }
  check_control_aspect(units, out.iterations.front().submission.request);
  if (img2img && !out.iterations.front().submission.request.mask_image.pixels.empty()) {
    const GenerationRequest& first = out.iterations.front().submission.request;
    const Image mask = a1111_mask(first.mask_image, out.mask_invert, out.mask_blur);
    for (JobRequest& job : out.iterations) job.submission.request.mask_image = mask;
    out.overlay_mask = mask;
    out.overlay_original = to_rgb(first.init_image);
  }

  // 4. the `parameters` echo: the request with the defaults used
  out.parameters = body;
  for (const char* big : {"init_images", "mask"})
    if (out.parameters.contains(big)) out.parameters[big] = nullptr;
  out.parameters["prompt"] = prompt;
  out.parameters["negative_prompt"] = negative;
  out.parameters["steps"] = steps;
  out.parameters["cfg_scale"] = cfg;
  out.parameters["width"] = width;
  out.parameters["height"] = height;
  out.parameters["batch_size"] = out.batch_size;
  out.parameters["n_iter"] = out.n_iter;
  if (!seed) out.parameters["seed"] = -1;
  if (img2img) out.parameters["denoising_strength"] = out.denoising_strength;
  return out;
}

std::string png_parameters(const std::string& png);

}  // namespace

void apply_a1111_overlay(const A1111Request& request, std::vector<JobEvent>& completed) {
  if (request.overlay_mask.pixels.empty()) return;
  Image original, mask;  // at the size of the images, resized once
  for (JobEvent& e : completed) {
    for (EncodedImage& image : e.images) {
      const Image result = to_rgb(decode_image(image.bytes));
      if (original.width != result.width || original.height != result.height) {
        // images.resize_image(0, ...): Pillow's Lanczos, only when the size differs
        auto fit = [&result](const Image& im) {
          return im.width == result.width && im.height == result.height ? im : resize_lanczos_pil(im, result.width, result.height);
        };
        original = fit(request.overlay_original);
        mask = fit(request.overlay_mask);
      }
      image.bytes = encode_png(a1111_mask_overlay(result, original, mask), png_parameters(image.bytes));
    }
  }
}

Image a1111_mask(const Image& mask, bool invert, int blur) {
  Image out = to_gray(mask);
  for (auto& p : out.pixels) p = static_cast<uint8_t>((p > 128) != invert ? 255 : 0);  // create_binary_mask (round)
  return gaussian_blur_a1111(out, blur);
}

namespace {

std::string png_parameters(const std::string& png) {
  try {
    for (const auto& [key, text] : png_text_chunks(png))
      if (key == "parameters") return text;
  } catch (const ImageError&) {
  }
  return "";
}

}  // namespace

A1111Request parse_a1111_txt2img(const nlohmann::json& body, const ParseOptions& options) {
  return parse_common(body, options, false);
}

A1111Request parse_a1111_img2img(const nlohmann::json& body, const ParseOptions& options) {
  return parse_common(body, options, true);
}

std::string a1111_sampler_name(const std::string& canonical) {
  static const std::pair<const char*, const char*> names[] = {
      {"ddim", "DDIM"},        {"pndm", "PLMS"},     {"ddpm", "DDPM"},
      {"euler", "Euler"},      {"euler_a", "Euler a"}, {"dpmpp_2m", "DPM++ 2M"},
      {"dpmpp_2m_karras", "DPM++ 2M Karras"}, {"heun", "Heun"}, {"lcm", "LCM"}, {"unipc", "UniPC"},
      {"flow_match_euler", "Euler"}};
  for (const auto& [c, display] : names)
    if (canonical == c) return display;
  return canonical;
}

nlohmann::json a1111_response(const A1111Request& request, const std::vector<JobEvent>& completed,
                              const std::string& model_name, bool interrupted) {
  nlohmann::json images = nlohmann::json::array(), seeds = nlohmann::json::array(), infotexts = nlohmann::json::array();
  nlohmann::json prompts = nlohmann::json::array(), negatives = nlohmann::json::array();
  const GenerationRequest* first = request.iterations.empty() ? nullptr : &request.iterations.front().submission.request;
  const std::string prompt = first ? first->prompt : "";
  const std::string negative = first ? first->negative_prompt.value_or("") : "";
  std::string sampler = request.sampler_name;
  for (const JobEvent& e : completed) {
    for (const EncodedImage& image : e.images) {
      images.push_back(encode_base64(image.bytes));
      seeds.push_back(e.seed);  // one generator per batch: every image of a job has its seed
      const std::string text = png_parameters(image.bytes);
      infotexts.push_back(text);
      prompts.push_back(prompt);
      negatives.push_back(negative);
      std::smatch m;
      if (sampler.empty() && std::regex_search(text, m, std::regex("Sampler: ([^,\n]+)"))) sampler = m[1].str();
    }
  }
  if (!sampler.empty()) {
    try {
      sampler = a1111_sampler_name(canonical_scheduler_name(sampler));
    } catch (const SchedulerError&) {
    }
  }
  const int width = first ? first->width : 0, height = first ? first->height : 0;
  nlohmann::json info = {
      {"prompt", prompt}, {"all_prompts", prompts}, {"negative_prompt", negative}, {"all_negative_prompts", negatives},
      {"seed", request.seed}, {"all_seeds", seeds}, {"subseed", -1}, {"all_subseeds", nlohmann::json::array()},
      {"subseed_strength", 0}, {"width", width}, {"height", height}, {"sampler_name", sampler},
      {"cfg_scale", request.parameters.value("cfg_scale", 7.0)}, {"steps", request.parameters.value("steps", 50)},
      {"batch_size", request.batch_size}, {"restore_faces", false}, {"face_restoration_model", nullptr},
      {"sd_model_name", model_name}, {"sd_model_hash", nullptr}, {"sd_vae_name", nullptr}, {"sd_vae_hash", nullptr},
      {"seed_resize_from_w", -1}, {"seed_resize_from_h", -1},
      {"denoising_strength", request.img2img ? nlohmann::json(request.denoising_strength) : nlohmann::json(nullptr)},
      {"extra_generation_params", nlohmann::json::object()}, {"index_of_first_image", 0}, {"infotexts", infotexts},
      {"styles", nlohmann::json::array()}, {"job_timestamp", ""},
      {"clip_skip", first ? first->clip_skip : 1}, {"is_using_inpainting_conditioning", false},
      {"interrupted", interrupted}, {"version", "sd-worker"}};
  return {{"images", images}, {"parameters", request.parameters}, {"info", dump_json(info)}};
}

}  // namespace sdw::net
