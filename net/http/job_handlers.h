// Handlers of the job routes (rbee's job protocol): submit (`POST /v1/jobs`), stream
// (`GET /v1/jobs/{id}/stream`, SSE), status (`GET /v1/jobs/{id}`) and cancel
// (`DELETE /v1/jobs/{id}`).
#pragma once

#include "net/http/handler.h"

namespace sdw::net {

// 415 unless Content-Type is application/json; parses and validates the Operation, submits it;
// 200 {"job_id","sse_url"}. Queue full -> 429 QUEUE_FULL with Retry-After.
void handle_submit_job(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
// text/event-stream of the job's events (history first, then live), then one marker line.
void handle_job_stream(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
void handle_job_status(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);
// 200 {"job_id","status":"cancelled"}; 404 unknown; 409 already finished.
void handle_cancel_job(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);

// The media type of a Content-Type value, lower case, without parameters.
std::string media_type(const std::string& content_type);

}  // namespace sdw::net
