// rbee Operations <-> the worker's JobSubmission: `POST /v1/jobs` bodies tagged by "operation"
// (image_generation, image_transform, image_inpaint) with rbee's field names and defaults plus
// this worker's extras, and the JSON of accepted jobs and job status. Pure functions.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "actors/worker.h"
#include "model/catalog/asset_folders.h"
#include "net/http/validation.h"

namespace sdw::net {

struct ParseOptions {
  ServedModel model;
  // Where the `loras` field's names (and prompt tags `<lora:name:w>`) are looked up; null: none.
  std::shared_ptr<const AssetFolders> lora_folders;
  // The ControlNets jobs may name in `controlnets` (serve --controlnet DIR): name -> folder; null: none.
  std::shared_ptr<const std::map<std::string, std::string>> controlnets;
  // `hf://org/name[@revision]/file.safetensors` LoRAs: the local path after the download (throws
  // net::HubError); null: such references are refused (serve --hub-loras turns them on).
  std::function<std::string(const std::string& reference)> resolve_hub_lora;
  ValidationLimits limits;
  int default_preview_every = 0;
  // The A1111 route: an empty (or blank) prompt is a prompt, as in A1111; rbee requires one.
  bool allow_empty_prompt = false;
};

struct JobRequest {
  std::string operation;  // image_generation | image_transform | image_inpaint
  std::string hive_id;
  std::string worker_id;
  std::string model;
  JobSubmission submission;
};

// rbee's defaults.
constexpr int kDefaultSteps = 20;
constexpr double kDefaultGuidance = 7.5;
constexpr int kDefaultSide = 512;
constexpr double kDefaultStrength = 0.8;

const std::vector<std::string>& operation_names();

// Parses and validates a body. Throws ApiError 400 naming the field (INVALID_JSON,
// MISSING_FIELD, INVALID_FIELD, INVALID_IMAGE, UNKNOWN_OPERATION, MODEL_NOT_FOUND,
// LORA_NOT_SUPPORTED).
JobRequest parse_job_request(const std::string& body, const ParseOptions& options);
JobRequest parse_job_request(const nlohmann::json& body, const ParseOptions& options);

// "job-" + a UUID v4 in lower or upper case hex; anything else is never a job here.
bool is_valid_job_id(const std::string& job_id);
std::string stream_path(const std::string& job_id);  // /v1/jobs/<id>/stream
// {"job_id":...,"sse_url":"/v1/jobs/<id>/stream"}
nlohmann::json job_accepted_json(const std::string& job_id);
// {"job_id","state","step","total","percent","queue_position"[,"error"][,"result"]}
nlohmann::json job_status_json(const JobStatus& status);

}  // namespace sdw::net
