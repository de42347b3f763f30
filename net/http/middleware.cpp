// Request ids, bearer auth and CORS (see middleware.h).
#include "net/http/middleware.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <random>

namespace sdw::net {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string normalise_origin(std::string origin) {
  while (!origin.empty() && origin.back() == '/') origin.pop_back();
  return lower(origin);
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

}  // namespace

std::string printable(const std::string& text, size_t max) {
  std::string out;
  for (char c : text.substr(0, max)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  return text.size() > max ? out + "..." : out;
}

bool is_valid_request_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-';
  });
}

std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[24];
  std::snprintf(buf, sizeof buf, "req-%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

std::string request_id_from_header(const std::string& header_value) {
  return is_valid_request_id(header_value) ? header_value : new_request_id();
}

bool constant_time_equals(const std::string& a, const std::string& b) {
  // Walk the full length of `a` (the attacker's input) whatever b is; fold in the length check.
  volatile unsigned char diff = static_cast<unsigned char>(a.size() != b.size());
  const size_t nb = b.size();
  for (size_t i = 0; i < a.size(); ++i) {
    const unsigned char cb = nb ? static_cast<unsigned char>(b[i % nb]) : 0;
    diff = diff | (static_cast<unsigned char>(a[i]) ^ cb);
  }
  return diff == 0;
}

std::optional<ApiError> check_bearer(const std::string& authorization, const std::string& token) {
  if (token.empty()) return std::nullopt;
  const std::string value = trim(authorization);
  if (value.empty())
    return ApiError(ErrorType::authentication, "MISSING_API_KEY",
                    "missing API key: send the header 'Authorization: Bearer <token>'");
  const auto space = value.find(' ');
  const std::string scheme = lower(value.substr(0, space));
  const std::string presented = space == std::string::npos ? "" : trim(value.substr(space + 1));
  if (scheme != "bearer")
    return ApiError(ErrorType::authentication, "INVALID_API_KEY", "invalid API key: use the Bearer scheme");
  if (presented.empty())
    return ApiError(ErrorType::authentication, "MISSING_API_KEY", "missing API key after 'Bearer'");
  if (!constant_time_equals(presented, token))
    return ApiError(ErrorType::authentication, "INVALID_API_KEY", "invalid API key");
  return std::nullopt;
}

bool CorsPolicy::allows(const std::string& origin) const {
  if (origin.empty()) return false;
  const std::string o = normalise_origin(origin);
  return std::any_of(allowed_origins.begin(), allowed_origins.end(),
                     [&](const std::string& a) { return a == "*" || normalise_origin(a) == o; });
}

HeaderList cors_headers(const CorsPolicy& policy, const std::string& origin, bool preflight) {
  HeaderList h;
  if (!policy.allows(origin)) return h;
  const bool exact = std::any_of(policy.allowed_origins.begin(), policy.allowed_origins.end(),
                                 [&](const std::string& a) { return a != "*" && normalise_origin(a) == normalise_origin(origin); });
  if (exact) {
    h.emplace_back("Access-Control-Allow-Origin", origin);
    h.emplace_back("Vary", "Origin");
    h.emplace_back("Access-Control-Allow-Credentials", "true");
  } else {
    h.emplace_back("Access-Control-Allow-Origin", "*");  // never with credentials
  }
  h.emplace_back("Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
  if (preflight) {
    h.emplace_back("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
    h.emplace_back("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id, X-Correlation-Id, Last-Event-ID, Cache-Control");
    h.emplace_back("Access-Control-Max-Age", "600");
  }
  return h;
}

std::optional<ApiError> check_framing(const std::vector<std::string>& content_lengths, bool transfer_encoding) {
  for (const std::string& length : content_lengths)
    if (length != content_lengths.front())
      return ApiError(ErrorType::invalid_request, "BAD_FRAMING", "conflicting Content-Length headers");
  if (transfer_encoding && !content_lengths.empty())
    return ApiError(ErrorType::invalid_request, "BAD_FRAMING", "Transfer-Encoding and Content-Length together");
  return std::nullopt;
}

}  // namespace sdw::net
