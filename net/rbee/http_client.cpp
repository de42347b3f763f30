// Blocking HTTP client with timeouts (see http_client.h).
#include "net/rbee/http_client.h"

#include <httplib.h>

#include <stdexcept>

namespace sdw::net {
namespace {

template <class Rep, class Period>
void split(std::chrono::duration<Rep, Period> d, time_t& sec, time_t& usec) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  sec = static_cast<time_t>(us / 1000000);
  usec = static_cast<time_t>(us % 1000000);
}

}  // namespace

HttpClient::HttpClient(const std::string& base_url, HttpClientOptions options)
    : base_url_(base_url), options_(options) {
  const auto scheme_end = base_url.find("://");
  if (scheme_end == std::string::npos) throw std::invalid_argument("URL without scheme: " + base_url);
  const std::string scheme = base_url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") throw std::invalid_argument("URL scheme must be http or https: " + base_url);
  const auto path_start = base_url.find('/', scheme_end + 3);
  origin_ = base_url.substr(0, path_start);
  if (origin_.size() <= scheme_end + 3) throw std::invalid_argument("URL without host: " + base_url);
  if (path_start != std::string::npos) path_prefix_ = base_url.substr(path_start);
  while (!path_prefix_.empty() && path_prefix_.back() == '/') path_prefix_.pop_back();
}

HttpClientResult HttpClient::post_json(const std::string& path, const std::string& json) const {
  HttpClientResult out;
  try {
    httplib::Client cli(origin_);
    if (!cli.is_valid()) {
      out.error = "invalid URL " + origin_;
      return out;
    }
    time_t s = 0, us = 0;
    split(options_.connect_timeout, s, us);
    cli.set_connection_timeout(s, us);
    split(options_.read_timeout, s, us);
    cli.set_read_timeout(s, us);
    split(options_.write_timeout, s, us);
    cli.set_write_timeout(s, us);
    cli.set_keep_alive(false);
    std::string full = path_prefix_ + path;
    if (full.empty()) full = "/";
    auto res = cli.Post(full, json, "application/json");
    if (!res) {
      out.error = httplib::to_string(res.error());
      return out;
    }
    out.status = res->status;
    out.body = res->body;
    if (!out.ok()) out.error = "HTTP " + std::to_string(res->status);
  } catch (const std::exception& e) {
    out.status = 0;
    out.error = e.what();
  }
  return out;
}

}  // namespace sdw::net
