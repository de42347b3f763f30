// The OpenAPI document and its route (see openapi.h). The text itself is generated at build time
// from net/http/openapi.json (cmake/embed_text.cmake) into openapi_document.cpp.
#include "net/http/openapi.h"

#include <httplib.h>

namespace sdw::net {

namespace embedded {
extern const char kOpenApiJson[];
extern const unsigned long kOpenApiJsonSize;
}  // namespace embedded

std::string_view openapi_document() { return {embedded::kOpenApiJson, embedded::kOpenApiJsonSize}; }

void handle_openapi(ServerContext&, const httplib::Request&, httplib::Response& res) {
  const std::string_view text = openapi_document();
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_content(text.data(), text.size(), "application/json");
}

}  // namespace sdw::net
