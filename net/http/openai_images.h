// OpenAI Images API requests -> the worker's JobSubmission, and its responses: the bodies of
// `POST /v1/images/generations` (JSON) and `POST /v1/images/edits` (multipart form) mapped onto an
// rbee Operation and validated by the rbee parser (one request type, the same limits), plus
// OpenAI's own fields (n, size, response_format, quality, style, user) checked under their names.
// Pure functions; the handlers are in openai_handlers.h. What is honoured: docs/openai-api.md.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "net/http/operations.h"

namespace sdw::net {

struct OpenAiImageJob {
  JobRequest job;               // the rbee request it maps to (operation, model, submission)
  std::string response_format;  // "url" (OpenAI's default) | "b64_json"
  std::string prompt;           // as the client sent it (each answer's revised_prompt)
};

// One part of a multipart form: a text field (no filename) or a file.
struct FormPart {
  std::string content;
  std::string filename;
  bool is_file() const { return !filename.empty(); }
};
using FormParts = std::multimap<std::string, FormPart>;

// `POST /v1/images/generations`. Throws ApiError 400 naming the OpenAI field.
OpenAiImageJob parse_openai_generation(const nlohmann::json& body, const ParseOptions& options);
// `POST /v1/images/edits`: `image` (file), optional `mask` (PNG whose transparent pixels are the
// area to repaint) -> inpainting; no mask: the image's own transparent pixels when it has some
// (OpenAI's rule), otherwise img2img. Text fields arrive as strings; numbers are read from them.
OpenAiImageJob parse_openai_edit(const FormParts& form, const ParseOptions& options);

// The mask the pipeline takes (1 channel, 255 = repaint) from an OpenAI mask's alpha channel
// (alpha 0 = repaint): 255 - alpha. ApiError 400 naming `field` when the image has no alpha.
Image mask_from_alpha(const Image& rgba, const std::string& field);

// {"created": unix seconds, "data": [{"b64_json" | "url", "revised_prompt"}, ...]}; `urls` holds
// one absolute URL per image when the format is "url".
nlohmann::json openai_images_response(const JobEvent& complete, const OpenAiImageJob& request,
                                      const std::vector<std::string>& urls);

}  // namespace sdw::net
