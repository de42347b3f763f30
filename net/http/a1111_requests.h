// AUTOMATIC1111 API (`/sdapi/v1`) requests -> the worker's jobs, and its answers: txt2img and
// img2img bodies with A1111's field names and defaults, mapped onto rbee Operations and validated
// by the rbee parser (errors renamed back to A1111's fields), one job per `n_iter` iteration of
// `batch_size` images; the `info` JSON string; A1111's sampler names. Pure functions; the
// handlers are in a1111_handlers.h. What is honoured: docs/a1111-api.md.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "net/http/operations.h"

namespace sdw::net {

struct A1111Request {
  std::vector<JobRequest> iterations;  // n_iter jobs of batch_size images; seeds seed + i * batch_size
  nlohmann::json parameters;           // the request with A1111's defaults filled in (the `parameters` echo)
  bool img2img = false;
  uint64_t seed = 0;                   // the first iteration's (drawn here when the request said -1)
  int batch_size = 1, n_iter = 1;
  double denoising_strength = 0;       // img2img
  std::string sampler_name;            // as asked ("" the model's own)
};

// Throw ApiError 400 naming A1111's field.
A1111Request parse_a1111_txt2img(const nlohmann::json& body, const ParseOptions& options);
A1111Request parse_a1111_img2img(const nlohmann::json& body, const ParseOptions& options);

// A1111's display name of a canonical scheduler name ("euler_a" -> "Euler a").
std::string a1111_sampler_name(const std::string& canonical);

// {"images": [base64 PNG...], "parameters": {...}, "info": "<JSON text>"} for the completed jobs'
// events (in iteration order; skipped iterations left out). `info` carries seed, all_seeds,
// all_prompts, infotexts (each PNG's parameters text), sampler_name, cfg_scale, steps, ...
nlohmann::json a1111_response(const A1111Request& request, const std::vector<JobEvent>& completed,
                              const std::string& model_name, bool interrupted);

}  // namespace sdw::net
