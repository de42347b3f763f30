// LoRAs over HTTP: `GET /v1/loras` (what the configured LoRA folders hold: name, file, base
// family guessed from keys and shapes, rank, size) and the check a job's LoRAs pass before the job
// is queued (each file reads as a LoRA, and none is made for another model family).
#pragma once

#include "model/pipeline/request.h"
#include "net/http/handler.h"

namespace sdw::net {

// {"object":"list","data":[{"name","file","family","rank","modules","format","size_bytes"}, ...]};
// a file that does not read as a LoRA is listed with "error".
void handle_loras(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);

// 400 INVALID_LORA (the file does not read as a LoRA) or LORA_INCOMPATIBLE (an SDXL LoRA on an
// SD1.x model, or the reverse, told by its keys and shapes) for the request's LoRAs; the files
// parsed here stay in the LoRA cache for the job.
void check_loras(ServerContext& ctx, const GenerationRequest& request);

}  // namespace sdw::net
