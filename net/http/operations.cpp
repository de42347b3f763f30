// rbee Operations <-> JobSubmission (see operations.h).
#include "net/http/operations.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "model/lora/prompt_loras.h"
#include "model/schedulers/scheduler.h"
#include "net/http/controlnet_fields.h"
#include "net/http/errors.h"
#include "net/http/hires_fields.h"
#include "net/http/json_body.h"
#include "net/http/speed_fields.h"
#include "net/http/sse.h"
#include "net/hub/hub_error.h"
#include "net/hub/hub_reference.h"

namespace sdw::net {
namespace {

std::string join_quoted(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}

// A LoRA from the Hub (hf://org/name/file.safetensors), when the worker allows downloads.
std::string resolve_hub_lora(const std::string& name, const std::string& field, const ParseOptions& options) {
  if (!options.resolve_hub_lora)
    throw ApiError(ErrorType::forbidden, "LORA_HUB_DISABLED",
                   field + ": '" + name + "': this worker does not download LoRAs from the Hugging Face Hub (serve --hub-loras)",
                   field);
  try {
    return options.resolve_hub_lora(name);
  } catch (const HubError& e) {
    switch (e.code()) {
      case HubErrc::invalid_reference: throw invalid_field(field, field + ": " + e.what());
      case HubErrc::repo_not_found:
      case HubErrc::revision_not_found:
      case HubErrc::entry_not_found:
      case HubErrc::unauthorized: throw ApiError(ErrorType::invalid_request, "LORA_NOT_FOUND", field + ": " + e.what(), field);
      case HubErrc::unsupported: throw ApiError(ErrorType::invalid_request, "INVALID_LORA", field + ": " + e.what(), field);
      default: throw ApiError(ErrorType::unavailable, "LORA_DOWNLOAD_FAILED", field + ": " + e.what(), field);
    }
  }
}

// A LoRA name from a request, found in the configured LoRA folders (never a path of its own), or
// an hf:// reference.
std::string resolve_lora(const std::string& name, const std::string& field, const ParseOptions& options) {
  if (has_hub_file_prefix(name)) return resolve_hub_lora(name, field, options);
  if (!options.lora_folders || options.lora_folders->empty())
    throw ApiError(ErrorType::invalid_request, "LORA_NOT_FOUND",
                   field + ": LoRA '" + name + "' asked for, but this worker has no LoRA folders (serve --lora-dir DIR)",
                   field);
  try {
    return options.lora_folders->resolve(name).path.string();
  } catch (const AssetError& e) {
    switch (e.kind()) {
      case AssetError::Kind::bad_name: throw invalid_field(field, field + ": " + e.what());
      case AssetError::Kind::forbidden: throw ApiError(ErrorType::forbidden, "LORA_PATH_FORBIDDEN", field + ": " + e.what(), field);
      case AssetError::Kind::not_found: break;
    }
    throw ApiError(ErrorType::invalid_request, "LORA_NOT_FOUND", field + ": " + e.what() + " (GET /v1/loras lists them)", field);
  }
}

// `loras: [{"path": name, "strength": w}]` and the prompt's `<lora:name:w>` tags (cut out of the
// prompt), in that order.
void parse_loras(const FieldReader& fields, GenerationRequest& r, const ParseOptions& options) {
  const ValidationLimits& limits = options.limits;
  if (const auto* loras = fields.get("loras")) {
    if (!loras->is_array()) throw invalid_field("loras", "loras must be an array, got " + json_type(*loras));
    if (loras->size() > 16) throw invalid_field("loras", "at most 16 LoRAs per job");
    for (size_t i = 0; i < loras->size(); ++i) {
      const auto& item = (*loras)[i];
      const std::string name = "loras[" + std::to_string(i) + "]";
      if (!item.is_object()) throw invalid_field(name, name + " must be an object {\"path\",\"strength\"}, got " + json_type(item));
      FieldReader lora(item);
      const auto* path = lora.get("path");
      if (!path) throw missing_field(name + ".path");
      if (!path->is_string() || path->get<std::string>().empty())
        throw invalid_field(name + ".path", name + ".path must be a non-empty string");
      LoraUse use;
      const auto* strength = lora.get("strength");
      if (strength && (!strength->is_number() || !std::isfinite(strength->get<double>()) ||
                       std::abs(strength->get<double>()) > limits.max_lora_strength))
        throw invalid_field(name + ".strength", name + ".strength must be a number between -10 and 10");
      use.strength = strength ? strength->get<double>() : 1.0;
      use.path = resolve_lora(path->get<std::string>(), name + ".path", options);
      r.loras.push_back(std::move(use));
    }
  }
  if (r.prompt.find("<l") == std::string::npos) return;
  PromptLoras tags;
  try {
    tags = extract_prompt_loras(r.prompt);
  } catch (const std::exception& e) {
    throw invalid_field("prompt", std::string("prompt: ") + e.what());
  }
  if (r.loras.size() + tags.loras.size() > 16) throw invalid_field("prompt", "at most 16 LoRAs per job");
  for (const auto& tag : tags.loras) {
    if (!std::isfinite(tag.strength) || std::abs(tag.strength) > limits.max_lora_strength)
      throw invalid_field("prompt", "prompt: <lora:" + tag.name + "> strength must be between -10 and 10");
    r.loras.push_back(LoraUse{resolve_lora(tag.name, "prompt", options), tag.strength});
  }
  r.prompt = tags.prompt;
}

void parse_size(const FieldReader& fields, GenerationRequest& r, int fallback, const ValidationLimits& limits) {
  const int big = 1 << 20;
  r.width = fields.integer("width", fallback, 0, big);
  r.height = fields.integer("height", fallback, 0, big);
  if (r.width != 0 || fields.has("width")) check_side("width", r.width, limits);
  if (r.height != 0 || fields.has("height")) check_side("height", r.height, limits);
  if (r.width && r.height && static_cast<int64_t>(r.width) * r.height > limits.max_pixels)
    throw invalid_field("width", "width x height must be at most " + std::to_string(limits.max_pixels) + " pixels");
}

}  // namespace

const std::vector<std::string>& operation_names() {
  static const std::vector<std::string> names = {"image_generation", "image_transform", "image_inpaint"};
  return names;
}

JobRequest parse_job_request(const std::string& body, const ParseOptions& options) {
  if (body.empty())
    throw ApiError(ErrorType::invalid_request, "INVALID_JSON", "request body is empty; expected a JSON object");
  return parse_job_request(parse_json_body(body), options);
}

JobRequest parse_job_request(const nlohmann::json& body, const ParseOptions& options) {
  const ValidationLimits& limits = options.limits;
  if (!body.is_object())
    throw ApiError(ErrorType::invalid_request, "INVALID_JSON", "request body must be a JSON object, got " + json_type(body));
  const FieldReader fields(body);
  JobRequest job;

  // 1. which operation
  const auto* op = fields.get("operation");
  if (!op) throw missing_field("operation");
  const auto& ops = operation_names();
  if (!op->is_string() || std::find(ops.begin(), ops.end(), op->get<std::string>()) == ops.end())
    throw ApiError(ErrorType::invalid_request, "UNKNOWN_OPERATION",
                   "unknown operation " + dump_json(*op) + "; this worker runs " + join_quoted(ops), "operation");
  job.operation = op->get<std::string>();
  GenerationRequest& r = job.submission.request;
  r.mode = job.operation == "image_generation"  ? GenerationMode::txt2img
           : job.operation == "image_transform" ? GenerationMode::img2img
                                                : GenerationMode::inpaint;

  // 2. routing fields
  job.hive_id = fields.required_string("hive_id");
  job.worker_id = fields.optional_string("worker_id").value_or("");
  job.model = fields.required_string("model");
  if (!options.model.accepts(job.model))
    throw ApiError(ErrorType::invalid_request, "MODEL_NOT_FOUND",
                   "model '" + job.model + "' is not served here; this worker serves " + options.model.describe(), "model");

  // 3. prompt and sampling
  r.prompt = fields.required_string("prompt");
  check_prompt("prompt", r.prompt, !options.allow_empty_prompt, limits);
  r.negative_prompt = fields.optional_string("negative_prompt");
  if (r.negative_prompt) check_prompt("negative_prompt", *r.negative_prompt, false, limits);
  r.steps = fields.integer("steps", kDefaultSteps, 1, limits.max_steps);
  r.guidance = fields.number("guidance_scale", kDefaultGuidance, 0.0, limits.max_guidance);
  r.seed = fields.seed("seed");
  r.num_images = fields.integer("num_images", 1, 1, limits.max_images);
  r.clip_skip = fields.integer("clip_skip", 1, 1, limits.max_clip_skip);
  r.eta = fields.number("eta", 0.0, 0.0, 1.0);
  // SD3 only (a model of another family refuses them when given): T5 on or off for this job, and
  // T5's token count (absent: the worker's --max-sequence-length, else 256).
  if (fields.get("t5")) r.t5 = fields.boolean("t5", true);
  r.max_sequence_length = fields.integer("max_sequence_length", 0, 1, 512);
  // VAE tiling for this job (absent: the worker's --vae-tiling, else only when the decode would not fit).
  if (fields.get("vae_tiling")) r.vae_tiling = fields.boolean("vae_tiling", false);
  parse_speed_fields(fields, r);  // DeepCache / ToMe for this job (absent: the worker's --deepcache / --tome)
  if (const auto scheduler = fields.optional_string("scheduler")) {
    try {
      r.scheduler = canonical_scheduler_name(*scheduler);
    } catch (const SchedulerError& e) {
      throw invalid_field("scheduler", std::string("scheduler: ") + e.what());
    }
  }
  parse_loras(fields, r, options);
  parse_controlnets(fields, r, options.controlnets.get(), limits);
  // SDXL base + refiner (serve --refiner): the refiner's name, and the base's share of the schedule.
  if (const auto refiner = fields.optional_string("refiner")) {
    if (refiner->empty()) throw invalid_field("refiner", "refiner must name the served refiner model");
    job.submission.refiner = *refiner;
    r.refiner_start = fields.number("refiner_start", 0.8, 0.0, 1.0);
    if (*r.refiner_start <= 0 || *r.refiner_start >= 1)
      throw invalid_field("refiner_start", "refiner_start must be between 0 and 1 (exclusive)");
  } else if (fields.has("refiner_start")) {
    throw invalid_field("refiner_start", "refiner_start needs a refiner");
  }

  // 4. size and images
  if (r.mode == GenerationMode::txt2img) {
    parse_size(fields, r, kDefaultSide, limits);
  } else {
    parse_size(fields, r, 0, limits);  // 0: the input image's size
    if (fields.has("strength")) {  // absent: the model's default (SDXL: diffusers' 0.3 / 0.9999)
      const double strength = fields.number("strength", kDefaultStrength, 0.0, 1.0);
      if (strength <= 0) throw invalid_field("strength", "strength must be greater than 0 and at most 1, got 0");
      if (static_cast<int>(r.steps * strength) < 1)
        throw invalid_field("strength", "strength " + std::to_string(strength) + " with " + std::to_string(r.steps) +
                                            " steps leaves no denoising step; raise steps or strength");
      r.strength = strength;
    }
    const char* image_field = r.mode == GenerationMode::img2img ? "input_image" : "init_image";
    r.init_image = decode_field_image(image_field, fields.required_string(image_field), limits);
    if (r.width == 0 || r.height == 0) check_derived_size(image_field, r.init_image, limits);
    if (r.mode == GenerationMode::inpaint) {
      // Where the masked area starts (A1111's masked content): original (default), fill,
      // latent_noise or latent_nothing.
      if (const auto fill = fields.optional_string("inpaint_fill")) {
        const auto parsed = parse_inpaint_fill(*fill);
        if (!parsed)
          throw invalid_field("inpaint_fill", "inpaint_fill must be one of original, fill, latent_noise, latent_nothing; got '" +
                                                  fill->substr(0, 40) + "'");
        r.inpaint_fill = *parsed;
      }
      r.mask_image = decode_field_image("mask_image", fields.required_string("mask_image"), limits);
      if (r.mask_image.width != r.init_image.width || r.mask_image.height != r.init_image.height)
        throw invalid_field("mask_image", "mask_image is " + std::to_string(r.mask_image.width) + "x" +
                                              std::to_string(r.mask_image.height) + " but init_image is " +
                                              std::to_string(r.init_image.width) + "x" +
                                              std::to_string(r.init_image.height) + "; they must be the same size");
    }
  }

  if (r.mode != GenerationMode::inpaint && fields.has("inpaint_fill"))
    throw invalid_field("inpaint_fill", "inpaint_fill applies to image_inpaint only");
  parse_hires(fields, r, limits);  // A1111's hires fix (image_generation)

  // 5. delivery extras
  JobSubmission& s = job.submission;
  if (auto format = fields.optional_string("output_format")) {
    try {
      s.output.format = OutputFormat::canonical_name(*format);
    } catch (const ImageError& e) {
      throw invalid_field("output_format", e.what());
    }
  }
  s.output.jpeg_quality = fields.integer("jpeg_quality", 90, 1, 100);
  s.preview_every = fields.integer("preview_every", options.default_preview_every, 0, limits.max_steps);
  s.cancel_on_disconnect = fields.boolean("cancel_on_disconnect", false);
  return job;
}

bool is_valid_job_id(const std::string& id) {
  // job-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
  if (id.size() != 40 || id.compare(0, 4, "job-") != 0) return false;
  for (size_t i = 4; i < id.size(); ++i) {
    const size_t k = i - 4;
    const bool dash = k == 8 || k == 13 || k == 18 || k == 23;
    if (dash ? id[i] != '-' : !std::isxdigit(static_cast<unsigned char>(id[i]))) return false;
  }
  return true;
}

std::string stream_path(const std::string& job_id) { return "/v1/jobs/" + job_id + "/stream"; }

nlohmann::json job_accepted_json(const std::string& job_id) {
  return {{"job_id", job_id}, {"sse_url", stream_path(job_id)}};
}

nlohmann::json job_status_json(const JobStatus& status) {
  nlohmann::json j = {{"job_id", status.job_id},
                      {"state", to_string(status.state)},
                      {"step", status.step},
                      {"total", status.total},
                      {"percent", status.total > 0 ? 100.0 * status.step / status.total : 0.0},
                      {"queue_position", status.queue_position},
                      {"sse_url", stream_path(status.job_id)}};
  if (!status.error.empty()) j["error"] = status.error;
  if (status.result) j["result"] = event_json(*status.result);
  return j;
}

}  // namespace sdw::net
