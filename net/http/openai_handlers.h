// Handlers of the OpenAI Images API routes: `POST /v1/images/generations`, `POST /v1/images/edits`
// (multipart) and `GET /v1/images/files/{file}` (the signed URLs of response_format "url"). Each
// request runs one job through the worker to its end and answers OpenAI's response shape; errors
// use OpenAI's error shape (the route table says so). docs/openai-api.md.
#pragma once

#include "net/http/handler.h"

namespace sdw::net {

void handle_openai_generations(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
void handle_openai_edits(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
// No token needed: the file name carries this process's signature (image_urls.h). 404
// IMAGE_NOT_FOUND when the signature is not ours or the job's result has expired.
void handle_openai_image_file(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);

}  // namespace sdw::net
