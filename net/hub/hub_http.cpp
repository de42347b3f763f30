// Hub HTTP requests, redirects and error answers (see hub_http.h).
#include "net/hub/hub_http.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace sdw::net {
namespace {

constexpr int kMaxRedirects = 10;
constexpr size_t kMaxErrorBody = 64 * 1024;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

void split_ms(std::chrono::milliseconds d, time_t& sec, time_t& usec) {
  sec = static_cast<time_t>(d.count() / 1000);
  usec = static_cast<time_t>((d.count() % 1000) * 1000);
}

void copy_headers(const httplib::Headers& from, HubResponse& to) {
  to.headers.clear();
  for (const auto& kv : from) to.headers.emplace(lower(kv.first), kv.second);
}

std::string describe(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
      return "could not connect";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out";
    case httplib::Error::Read:
      return "connection closed or read timed out";
    case httplib::Error::Write:
      return "write failed";
    case httplib::Error::SSLConnection:
      return "TLS handshake failed";
    case httplib::Error::SSLLoadingCerts:
      return "cannot load the CA certificates";
    case httplib::Error::SSLServerVerification:
      return "the server's TLS certificate did not verify";
    default:
      return httplib::to_string(e);
  }
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// cpp-httplib 0.11 percent-decodes every response header value, Location included, so the URL
// has to be quoted again before it is requested. Characters a URL may carry as they are stay as
// they are ('/' ':' '&' '+', a parameter's first '=' ...); the others ('%', ';', '"', '\'', '*',
// ',', '?', '#' and a value's '=' in the query, spaces, bytes >= 0x80) are encoded. What this
// cannot restore is a "%2B" that the server meant as a literal plus: the Hub's CDN URLs carry
// none (CloudFront signatures use -_~, S3 signatures are hex) and use '+' for spaces in
// response-content-disposition, which stays a '+'.
std::string requote_location(const std::string& decoded) {
  static const char* const kHex = "0123456789ABCDEF";
  std::string out;
  bool in_query = false, in_value = false;
  for (unsigned char c : decoded) {
    bool keep = std::isalnum(c) || std::strchr("-._~/:@!$&()+=", c) != nullptr;
    if (!in_query && (c == ';' || c == ',' || c == '*' || c == '\'')) keep = true;  // path parameters
    if (!in_query && c == '?') {
      in_query = true;
      keep = true;
    } else if (in_query && c == '&') {
      in_value = false;
    } else if (in_query && c == '=') {
      keep = !in_value;  // the first '=' of a parameter separates; later ones were %3D
      in_value = true;
    }
    if (keep && c != 0) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Location against the URL that answered: absolute, scheme-relative or path-absolute.
std::string resolve_location(const SplitUrl& from, const std::string& location) {
  if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0) return location;
  if (location.rfind("//", 0) == 0) return from.origin.substr(0, from.origin.find("//")) + location;
  if (!location.empty() && location[0] == '/') return from.origin + location;
  const auto q = from.target.find('?');
  const std::string path = from.target.substr(0, q);
  return from.origin + path.substr(0, path.rfind('/') + 1) + location;
}

// The Hub's own words for an error, when it gave some.
std::string hub_says(const HubResponse& r) {
  std::string msg = r.header("x-error-message");
  if (msg.empty() && !r.body.empty() && r.body.front() == '{') {
    const auto k = r.body.find("\"error\"");
    if (k != std::string::npos) {
      const auto q1 = r.body.find('"', r.body.find(':', k) + 1);
      const auto q2 = q1 == std::string::npos ? q1 : r.body.find('"', q1 + 1);
      if (q2 != std::string::npos) msg = r.body.substr(q1 + 1, q2 - q1 - 1);
    }
  }
  return msg.empty() ? "" : " (the Hub says: " + msg + ")";
}

}  // namespace

std::string HubResponse::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

std::string url_quote(const std::string& text, bool keep_slash) {
  static const char* const kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

SplitUrl split_url(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos ||
      (url.compare(0, scheme_end, "http") != 0 && url.compare(0, scheme_end, "https") != 0))
    throw HubError(HubErrc::network, "not an http(s) URL: '" + url + "' (check HF_ENDPOINT)");
  const auto path_start = url.find('/', scheme_end + 3);
  SplitUrl out;
  out.origin = url.substr(0, path_start);
  out.target = path_start == std::string::npos ? "/" : url.substr(path_start);
  if (out.origin.size() <= scheme_end + 3) throw HubError(HubErrc::network, "URL without a host: '" + url + "'");
  return out;
}

HubHttp::HubHttp(HubConfig config) : config_(std::move(config)), endpoint_origin_(split_url(config_.endpoint).origin) {}

HubResponse HubHttp::get(const std::string& url) const {
  return send(false, url, 0, Follow::all, config_.metadata_timeout, nullptr, nullptr);
}

HubResponse HubHttp::head(const std::string& url) const {
  return send(true, url, 0, Follow::relative, config_.metadata_timeout, nullptr, nullptr);
}

HubResponse HubHttp::fetch(const std::string& url, int64_t offset,
                           const std::function<bool(const HubResponse&)>& on_start,
                           const std::function<bool(const char*, size_t)>& sink) const {
  return send(false, url, offset, Follow::all, config_.download_timeout, &on_start, &sink);
}

HubResponse HubHttp::send(bool head, std::string url, int64_t offset, Follow follow,
                          std::chrono::milliseconds read_timeout,
                          const std::function<bool(const HubResponse&)>* on_start,
                          const std::function<bool(const char*, size_t)>* sink) const {
  for (int hop = 0;; ++hop) {
    const SplitUrl u = split_url(url);
    HubResponse out;
    out.url = url;
    httplib::Client cli(u.origin);
    if (!cli.is_valid()) {
      out.error = "invalid URL " + u.origin;
      return out;
    }
    time_t s = 0, us = 0;
    split_ms(config_.connect_timeout, s, us);
    cli.set_connection_timeout(s, us);
    split_ms(read_timeout, s, us);
    cli.set_read_timeout(s, us);
    cli.set_write_timeout(s, us);
    cli.set_follow_location(false);
    cli.set_url_encode(false);  // URLs are quoted here; a CDN's signed query stays as given
    cli.set_decompress(false);
    cli.set_keep_alive(false);
    httplib::Headers headers{{"User-Agent", config_.user_agent}, {"Accept-Encoding", "identity"}};
    // The token goes to the Hub only, never to a CDN (its URLs are signed) or another host.
    if (!config_.token.empty() && u.origin == endpoint_origin_)
      headers.emplace("Authorization", "Bearer " + config_.token);
    if (offset > 0) headers.emplace("Range", "bytes=" + std::to_string(offset) + "-");

    httplib::Result res{nullptr, httplib::Error::Unknown};
    bool streaming = false, aborted = false;
    if (head) {
      res = cli.Head(u.target, headers);
    } else if (!sink) {
      res = cli.Get(u.target, headers);
    } else {
      res = cli.Get(
          u.target, headers,
          [&](const httplib::Response& r) {
            out.status = r.status;
            copy_headers(r.headers, out);
            streaming = r.status == 200 || r.status == 206;
            if (streaming && on_start && *on_start && !(*on_start)(out)) {
              aborted = true;
              return false;
            }
            return true;
          },
          [&](const char* data, size_t n) {
            if (streaming) {
              if ((*sink)(data, n)) return true;
              aborted = true;
              return false;
            }
            if (out.body.size() < kMaxErrorBody) out.body.append(data, std::min(n, kMaxErrorBody - out.body.size()));
            return true;
          });
    }
    if (!res) {
      out.error = aborted ? "aborted" : describe(res.error());
      return out;  // status/headers of a stream cut short stay set
    }
    out.status = res->status;
    copy_headers(res->headers, out);
    if (!sink) out.body = res->body;
    if (!is_redirect(out.status) || follow == Follow::none) return out;
    const std::string location = res->get_header_value("Location");
    if (location.empty()) return out;
    const bool relative = location[0] == '/' && location.rfind("//", 0) != 0;
    // An LFS file's own redirect (it carries X-Linked-Etag) is the answer, even when relative.
    if (follow == Follow::relative && (!relative || !out.header("x-linked-etag").empty())) return out;
    if (hop >= kMaxRedirects) {
      out.status = 0;
      out.error = "too many redirects";
      return out;
    }
    url = resolve_location(u, requote_location(location));
  }
}

HubError hub_status_error(const HubResponse& r, const HubRequestContext& c) {
  const std::string code = r.header("x-error-code");
  const std::string page = c.endpoint + "/" + c.repo_id;
  const std::string status = "HTTP " + std::to_string(r.status);
  if (code == "RepoNotFound" || (r.status == 404 && code.empty() && c.file.empty())) {
    return HubError(HubErrc::repo_not_found,
                    "repository '" + c.repo_id + "' not found on " + c.endpoint + " (" + status +
                        "): check the name; a private repository also needs HF_TOKEN set to a token with access" +
                        (c.has_token ? " (the token in use has none)" : " (no token is set)"));
  }
  if (code == "RevisionNotFound")
    return HubError(HubErrc::revision_not_found, "revision '" + c.revision + "' of '" + c.repo_id + "' not found on " +
                                                     c.endpoint + " (" + status + "): check the branch, tag or commit");
  if (code == "EntryNotFound" || r.status == 404)
    return HubError(HubErrc::entry_not_found, "file '" + c.file + "' not found in '" + c.repo_id + "' at revision '" +
                                                  c.revision + "' (" + status + ")" + hub_says(r));
  if (r.status == 401 || r.status == 403 || code == "GatedRepo")
    return HubError(
        HubErrc::unauthorized,
        "access to '" + c.repo_id + "' was refused (" + status + ", a gated or private repository)" + hub_says(r) +
            ": accept its license on " + page +
            " while logged in, then set HF_TOKEN (or run `huggingface-cli login`) with a token of that account" +
            (c.has_token ? "; the token in use has no access" : "; no token is set"));
  return HubError(HubErrc::network, "unexpected " + status + " from " + r.url + hub_says(r));
}

}  // namespace sdw::net
