// The worker's OpenAPI 3.1 document (net/http/openapi.json: every route, the job request fields,
// the SSE event payloads and the error shape), compiled into the binary so that an installed
// worker and one run from the build tree serve the same text; and its route, GET /openapi.json.
// tests/e2e/test_openapi_e2e.cpp checks real responses against it; the TypeScript SDK's types
// are generated from it (ui/packages/sd-worker-sdk, `npm run gen:types`).
#pragma once

#include <string_view>

#include "net/http/handler.h"

namespace sdw::net {

// The document's JSON text, as in net/http/openapi.json.
std::string_view openapi_document();

// 200 application/json: the document (no token needed; revalidated on each load).
void handle_openapi(ServerContext& ctx, const httplib::Request& req, httplib::Response& res);

}  // namespace sdw::net
