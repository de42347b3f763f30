// Textual-inversion embeddings over HTTP: `GET /v1/embeddings` lists what the `--embeddings-dir`
// folders hold (name, the word prompts use, file, format, vectors, widths, size, whether it fits
// the served model), so clients can offer them; a prompt uses one by saying its name.
#pragma once

#include "net/http/handler.h"

namespace sdw::net {

// {"object":"list","data":[{"name","prompt_name","file","format","vectors","widths","size_bytes",
// "usable"}, ...]}; a file that does not read as an embedding is listed with "error", one that
// does not fit the served model with "usable": false and "reason".
void handle_embeddings(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);

// A1111's `GET /sdapi/v1/embeddings`: {"loaded": {name: {"step","sd_checkpoint","sd_checkpoint_name",
// "shape","vectors"}}, "skipped": {...}}: the readable embeddings that fit the served model, and
// those that do not (all are "loaded" until the model is); unreadable files are in neither.
void handle_a1111_embeddings(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);

}  // namespace sdw::net
