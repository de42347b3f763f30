// The HTTP side of the Hugging Face Hub client: URL building (huggingface_hub's quoting), GET/HEAD
// with the bearer token, redirects handled by hand (HEAD follows only relative ones, as
// huggingface_hub does; downloads follow all and drop Authorization when the origin changes, as
// `requests` does, since CDN URLs are signed), streaming bodies with Range, and the Hub's error
// answers (401/403/404 + X-Error-Code) turned into HubErrors. cpp-httplib underneath; no cache.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "net/hub/hub_config.h"
#include "net/hub/hub_error.h"

namespace sdw::net {

struct HubResponse {
  int status = 0;                              // 0: no HTTP answer (see error)
  std::string error;                           // transport failure ("Read", "Connection", ...)
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;                            // the body (streamed answers: a short error body only)
  std::string url;                             // the URL that gave this answer (after redirects)

  std::string header(const std::string& lower_case_name) const;
};

// Percent-encoding as Python's urllib.parse.quote (safe = "/" or nothing).
std::string url_quote(const std::string& text, bool keep_slash);
// "https://host[:port]/path?q" -> origin "https://host[:port]" and target "/path?q".
struct SplitUrl {
  std::string origin, target;
};
SplitUrl split_url(const std::string& url);

class HubHttp {
 public:
  explicit HubHttp(HubConfig config);

  // GET of a small body (the JSON API); follows redirects.
  HubResponse get(const std::string& url) const;
  // HEAD; follows relative redirects only (a renamed repo), never an LFS file's redirect to its
  // content (a 302 with X-Linked-Etag is returned as is, with its headers).
  HubResponse head(const std::string& url) const;
  // Streaming GET with "Range: bytes=offset-" when offset > 0; follows redirects. For a 200/206
  // answer `on_start` sees status and headers first (false aborts), then `sink` gets the body
  // (false aborts; error "aborted"). Other answers keep a short body in HubResponse::body.
  HubResponse fetch(const std::string& url, int64_t offset, const std::function<bool(const HubResponse&)>& on_start,
                    const std::function<bool(const char*, size_t)>& sink) const;

  const HubConfig& config() const { return config_; }

 private:
  enum class Follow { none, relative, all };
  HubResponse send(bool head, std::string url, int64_t offset, Follow follow, std::chrono::milliseconds read_timeout,
                   const std::function<bool(const HubResponse&)>* on_start,
                   const std::function<bool(const char*, size_t)>* sink) const;

  HubConfig config_;
  std::string endpoint_origin_;
};

// What was being asked when the Hub said no, for the error message.
struct HubRequestContext {
  std::string endpoint, repo_id, revision, file;  // file: "" for the revision API
  bool has_token = false;
};
// The HubError for an HTTP error answer: 401/403 (gated or private: accept the license, set
// HF_TOKEN), 404 (repo, revision or file not found, from X-Error-Code when given), others.
HubError hub_status_error(const HubResponse& response, const HubRequestContext& context);

}  // namespace sdw::net
