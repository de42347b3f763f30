// The HTTP server (see http_server.h).
#include "net/http/http_server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <iostream>
#include <stdexcept>

#include "net/http/errors.h"
#include "net/http/guarded_server.h"
#include "net/http/job_observer.h"
#include "net/http/metrics.h"
#include "net/http/middleware.h"
#include "net/http/routes.h"
#include "net/http/server_context.h"

namespace sdw::net {
namespace {

thread_local std::chrono::steady_clock::time_point tl_request_start;
thread_local bool tl_pre_routed = false;  // false for requests refused before routing

ConnectionSettings connection_settings(const HttpConfig& c) {
  ConnectionSettings s;
  s.limits.max_connections = c.max_connections;
  s.limits.max_connections_per_client = c.max_connections_per_client;
  s.keep_threads = static_cast<size_t>(std::max(2, c.threads));
  s.keep_alive = std::chrono::seconds(c.keep_alive_timeout_s);
  s.header_timeout = std::chrono::seconds(std::min(c.header_timeout_s, c.read_timeout_s));
  s.request_timeout = std::chrono::seconds(c.read_timeout_s);
  s.write_timeout = std::chrono::seconds(c.write_timeout_s);
  s.max_body_bytes = c.max_body_bytes;
  return s;
}

bool has_body(const httplib::Request& req) {
  return req.has_header("Transfer-Encoding") || (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
}

}  // namespace

struct HttpServer::Impl {
  HttpConfig config;
  Metrics metrics;
  JobObserver observer;
  ServerContext ctx;
  CorsPolicy cors;
  GuardedServer server;
  std::atomic<bool> running{false};
  std::atomic<bool> stop_requested{false};

  Impl(Worker& worker, HttpConfig cfg)
      : config(std::move(cfg)),
        observer(worker, metrics),
        ctx{worker, config, metrics, observer},
        server(connection_settings(config)) {
    if (!config.log) config.log = [](const std::string& line) { std::cerr << "sd-worker: " + line + "\n" << std::flush; };
    cors.allowed_origins = config.cors_origins;
    metrics.connection_counts([this] { return std::make_pair(server.connections().open(), server.connections().refused()); });
    setup();
  }

  void setup() {
    server.set_read_timeout(config.read_timeout_s, 0);
    server.set_write_timeout(config.write_timeout_s, 0);
    server.set_tcp_nodelay(true);

    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      return pre_route(req, res);
    });
    server.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request& req, httplib::Response& res) { return library_error(req, res); }));
    server.set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown exception";
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      config.log("unhandled exception [" + res.get_header_value("X-Request-Id") + "]: " + what);
      write_error(res, ApiError(ErrorType::internal, "INTERNAL_ERROR", "internal error; see the worker's log"));
    });
    server.set_logger([this](const httplib::Request& req, const httplib::Response& res) { log_request(req, res); });

    for (const Route& route : route_table()) {
      const Route* r = &route;
      auto handler = [this, r](const httplib::Request& req, httplib::Response& res) { dispatch(*r, ctx, req, res); };
      switch (route.method) {
        case Method::get: server.Get(route.pattern, handler); break;
        case Method::post:
          server.Post(route.pattern, handler);  // no body at all
          server.Post(route.pattern, [this, r](const httplib::Request& req, httplib::Response& res,
                                               const httplib::ContentReader& read) { read_and_dispatch(*r, req, res, read); });
          break;
        case Method::del: server.Delete(route.pattern, handler); break;
      }
    }
  }

  // Once the headers are in and before any body byte is read: request id, CORS headers, OPTIONS
  // (preflight), then admit_request (framing, declared length, route, auth). A refused request
  // with a body closes its connection after the answer: the body is never read.
  httplib::Server::HandlerResponse pre_route(const httplib::Request& req, httplib::Response& res) {
    tl_request_start = std::chrono::steady_clock::now();
    tl_pre_routed = true;
    reset_current_route();
    GuardedServer::mark_answering();
    res.set_header("X-Request-Id", request_id_from_header(req.get_header_value("X-Request-Id")));
    const bool preflight = req.method == "OPTIONS";
    for (const auto& [k, v] : cors_headers(cors, req.get_header_value("Origin"), preflight)) res.set_header(k, v);
    if (preflight) {
      res.status = 204;
      res.set_header("Allow", "GET, POST, DELETE, OPTIONS");
      if (has_body(req)) close_after(res);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (auto refused = admit_request(ctx, req)) {
      if (refused->status() == 405) res.set_header("Allow", allowed_list(req.path));
      write_error(res, *refused);
      if (has_body(req) || refused->code() == "BAD_FRAMING") close_after(res);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  }

  static void close_after(httplib::Response& res) {
    res.set_header("Connection", "close");
    GuardedServer::close_after_response();
  }

  static std::string allowed_list(const std::string& path) {
    std::string list;
    for (const auto& m : allowed_methods(path)) list += (list.empty() ? "" : ", ") + m;
    return list;
  }

  // A POST's body, read here (after pre_route admitted it) and cut off at the body limit however
  // it is framed; multipart parts become the request's files.
  void read_and_dispatch(const Route& route, const httplib::Request& req, httplib::Response& res,
                         const httplib::ContentReader& read) {
    httplib::Request full = req;
    size_t total = 0;
    bool too_large = false;
    const auto fits = [&](size_t n) {
      total += n;
      too_large = total > config.max_body_bytes;
      return !too_large;
    };
    bool ok;
    if (req.is_multipart_form_data()) {
      httplib::MultipartFormDataItems parts;
      ok = read([&](const httplib::MultipartFormData& part) { parts.push_back(part); return fits(0); },
                [&](const char* data, size_t n) {
                  if (!fits(n) || parts.empty()) return false;
                  parts.back().content.append(data, n);
                  return true;
                });
      for (auto& part : parts) full.files.emplace(part.name, std::move(part));
    } else {
      ok = read([&](const char* data, size_t n) {
        if (!fits(n)) return false;
        full.body.append(data, n);
        return true;
      });
    }
    if (!ok) {
      close_after(res);
      if (too_large || GuardedServer::request_over_budget())
        write_error(res, ApiError(ErrorType::payload_too_large, "BODY_TOO_LARGE",
                                  "request body larger than " + std::to_string(config.max_body_bytes) + " bytes"));
      else if (GuardedServer::request_timed_out())
        write_error(res, ApiError(ErrorType::invalid_request, "REQUEST_TIMEOUT",
                                  "the request body did not arrive within " + std::to_string(config.read_timeout_s) + " s")
                             .with_status(408));
      else
        write_error(res, ApiError(ErrorType::invalid_request, "BAD_BODY", "the request body is malformed or incomplete"));
      return;
    }
    dispatch(route, ctx, full, res);
  }

  // Failures cpp-httplib answers itself (no route, body too large, malformed request) get the
  // error shape; our own error bodies pass through untouched.
  static httplib::Server::HandlerResponse library_error(const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (!res.has_header("X-Request-Id")) res.set_header("X-Request-Id", new_request_id());
    ApiError error = from_library_status(res.status);
    if (GuardedServer::request_over_budget()) {
      error = ApiError(ErrorType::payload_too_large, "BODY_TOO_LARGE", "the request is larger than this worker accepts");
      close_after(res);
    } else if (GuardedServer::request_timed_out()) {
      error = ApiError(ErrorType::invalid_request, "REQUEST_TIMEOUT", "the request did not arrive in time").with_status(408);
      close_after(res);
    }
    if (res.status == 404) {
      const std::string allowed = allowed_list(req.path);
      if (!allowed.empty()) {
        res.set_header("Allow", allowed);
        error = ApiError(ErrorType::method_not_allowed, "METHOD_NOT_ALLOWED",
                         printable(req.method, 16) + " is not allowed on " + printable(req.path) + "; allowed: " + allowed);
      } else {
        error = ApiError(ErrorType::not_found, "ROUTE_NOT_FOUND", "no route " + printable(req.method, 16) + " " + printable(req.path));
      }
    }
    write_error(res, error);
    return httplib::Server::HandlerResponse::Handled;
  }

  void log_request(const httplib::Request& req, const httplib::Response& res) {
    metrics.request(current_route_name(), res.status);
    reset_current_route();  // requests refused before routing (malformed) skip pre_route()
    if (!config.log_requests) {
      tl_pre_routed = false;
      return;
    }
    char buf[32] = "-";
    if (tl_pre_routed) {
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - tl_request_start).count();
      std::snprintf(buf, sizeof buf, "%.1f ms", ms);
    }
    tl_pre_routed = false;
    config.log("[" + res.get_header_value("X-Request-Id") + "] " + printable(req.method, 16) + " " + printable(req.path) +
               " -> " + std::to_string(res.status) + " (" + buf + ")");
  }
};

HttpServer::HttpServer(Worker& worker, HttpConfig config) : impl_(std::make_unique<Impl>(worker, std::move(config))) {}

HttpServer::~HttpServer() {
  stop();
  impl_->observer.stop();
}

int HttpServer::bind() {
  int port = impl_->config.port;
  // SO_REUSEADDR only: a restart may bind while old connections linger in TIME_WAIT, but a second
  // worker on a port in use fails to start. (cpp-httplib's default, SO_REUSEPORT, lets it bind
  // and the kernel then splits the connections between the two processes.)
  impl_->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<void*>(&yes), sizeof(yes));
  });
  if (port == 0) {
    port = impl_->server.bind_to_any_port(impl_->config.host);
    if (port < 0) throw std::runtime_error("cannot bind " + impl_->config.host + " to a free port");
  } else if (!impl_->server.bind_to_port(impl_->config.host, port)) {
    throw std::runtime_error("cannot bind " + impl_->config.host + ":" + std::to_string(port) +
                             " (in use, or not an address of this machine)");
  }
  impl_->server.widen_backlog();
  impl_->ctx.port = port;
  return port;
}

void HttpServer::run() {
  impl_->running = true;
  if (!impl_->stop_requested) impl_->server.listen_after_bind();
  impl_->running = false;
}

void HttpServer::stop(std::chrono::milliseconds drain) {
  const auto until = std::chrono::steady_clock::now() + drain;
  impl_->stop_requested = true;
  // New connections are refused and every connection waiting for or still sending a request is
  // closed now; the open SSE streams get up to `drain` to send their last events, then whatever
  // is still open is shut down.
  impl_->server.stop_reading();
  while (impl_->metrics.open_streams() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  impl_->server.close_connections();
  // run() may be between its start and listening: retry until it has returned.
  bool sent = false;
  while (impl_->running) {
    if (!sent && impl_->server.is_running()) {
      impl_->server.stop();  // once: a second call would close an invalid socket
      sent = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int HttpServer::port() const { return impl_->ctx.port.load(); }

}  // namespace sdw::net
