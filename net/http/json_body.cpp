// JSON request bodies (see json_body.h): nlohmann's DOM builder behind a SAX handler that counts
// depth and remembers the key being read.
#include "net/http/json_body.h"

#include "net/http/errors.h"

namespace sdw::net {
namespace {

using json = nlohmann::json;

class bounded_sax {
 public:
  bounded_sax(json& out, int max_depth) : dom_(out, /*allow_exceptions=*/false), max_depth_(max_depth) {}

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) { return dom_.number_float(v, s); }
  bool string(json::string_t& v) { return dom_.string(v); }
  bool binary(json::binary_t& v) { return dom_.binary(v); }
  bool key(json::string_t& k) {
    key_ = k;
    return dom_.key(k);
  }
  bool start_object(std::size_t n) { return deeper() && dom_.start_object(n); }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(std::size_t n) { return deeper() && dom_.start_array(n); }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    error_id_ = ex.id;
    error_ = ex.what();
    return false;
  }

  bool too_deep() const { return too_deep_; }
  int error_id() const { return error_id_; }
  const std::string& error() const { return error_; }
  const std::string& last_key() const { return key_; }

 private:
  bool deeper() {
    if (++depth_ <= max_depth_) return true;
    too_deep_ = true;
    return false;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  int max_depth_;
  int depth_ = 0;
  bool too_deep_ = false;
  int error_id_ = 0;
  std::string error_, key_;
};

// Strips nlohmann's "[json.exception.parse_error.101] " prefix.
std::string without_prefix(const std::string& what) {
  const auto close = what.find("] ");
  return close == std::string::npos ? what : what.substr(close + 2);
}

}  // namespace

json parse_json_body(const std::string& body, int max_depth) {
  json out;
  bounded_sax sax(out, max_depth);
  if (json::sax_parse(body, &sax)) return out;
  if (sax.too_deep())
    throw ApiError(ErrorType::invalid_request, "INVALID_JSON",
                   "request body nests deeper than " + std::to_string(max_depth) + " levels");
  constexpr int kNumberOverflow = 406;  // nlohmann's out_of_range.406
  if (sax.error_id() == kNumberOverflow && !sax.last_key().empty())
    throw invalid_field(sax.last_key(), sax.last_key() + " is a number out of range (" + without_prefix(sax.error()) + ")");
  throw ApiError(ErrorType::invalid_request, "INVALID_JSON", "request body is not valid JSON: " + without_prefix(sax.error()));
}

}  // namespace sdw::net
