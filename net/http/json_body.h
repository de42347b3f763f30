// A request body parsed as JSON with the limits a server needs: nesting at most `max_depth`
// levels (a body nested millions of levels deep is refused while it is read, before it costs
// memory) and numbers that overflow a double (`1e400`) answered as a 400 naming their field
// rather than an internal error. Everything else is nlohmann's parser.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace sdw::net {

constexpr int kMaxJsonDepth = 64;

// Throws ApiError 400: INVALID_JSON (not JSON, too deep) or INVALID_FIELD (a number out of range,
// naming its field).
nlohmann::json parse_json_body(const std::string& body, int max_depth = kMaxJsonDepth);

}  // namespace sdw::net
