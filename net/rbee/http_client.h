// A small blocking HTTP client for the worker's outgoing calls (rbee queen heartbeats, hive
// registration): cpp-httplib underneath, short connect/read/write timeouts, one fresh connection
// per request, never throws. Base URLs may carry a path prefix ("http://hive:7835/v1/workers").
#pragma once

#include <chrono>
#include <string>

namespace sdw::net {

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds read_timeout{2000};
  std::chrono::milliseconds write_timeout{2000};
};

struct HttpClientResult {
  int status = 0;     // 0: no HTTP answer (see error)
  std::string body;
  std::string error;  // "connection refused", "read timeout", ... or "HTTP 500"
  bool ok() const { return status >= 200 && status < 300; }
};

class HttpClient {
 public:
  // Throws std::invalid_argument on a URL that is not http(s)://host[:port][/path].
  explicit HttpClient(const std::string& base_url, HttpClientOptions options = {});

  // POSTs `json` to base path + `path` ("" posts to the base URL itself).
  HttpClientResult post_json(const std::string& path, const std::string& json) const;

  const std::string& base_url() const { return base_url_; }

 private:
  std::string base_url_;
  std::string origin_;       // scheme://host[:port]
  std::string path_prefix_;  // "" or "/a/b" (no trailing slash)
  HttpClientOptions options_;
};

}  // namespace sdw::net
