// The HTTP server (see http_server.h).
#include "net/http/http_server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <iostream>
#include <stdexcept>

#include "net/http/errors.h"
#include "net/http/job_observer.h"
#include "net/http/metrics.h"
#include "net/http/middleware.h"
#include "net/http/routes.h"
#include "net/http/server_context.h"

namespace sdw::net {
namespace {

thread_local std::chrono::steady_clock::time_point tl_request_start;
thread_local bool tl_pre_routed = false;  // false for requests refused before routing

std::string printable(const std::string& s, size_t max = 200) {
  std::string out;
  for (char c : s.substr(0, max)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  return s.size() > max ? out + "..." : out;
}

}  // namespace

struct HttpServer::Impl {
  HttpConfig config;
  Metrics metrics;
  JobObserver observer;
  ServerContext ctx;
  CorsPolicy cors;
  httplib::Server server;
  std::atomic<bool> running{false};
  std::atomic<bool> stop_requested{false};

  Impl(Worker& worker, HttpConfig cfg)
      : config(std::move(cfg)), observer(worker, metrics), ctx{worker, config, metrics, observer} {
    if (!config.log) config.log = [](const std::string& line) { std::cerr << "sd-worker: " + line + "\n" << std::flush; };
    cors.allowed_origins = config.cors_origins;
    setup();
  }

  void setup() {
    const int threads = std::max(2, config.threads);
    server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    server.set_payload_max_length(config.max_body_bytes);
    server.set_keep_alive_timeout(config.keep_alive_timeout_s);
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
        case Method::post: server.Post(route.pattern, handler); break;
        case Method::del: server.Delete(route.pattern, handler); break;
      }
    }
  }

  // Request id, CORS headers, and OPTIONS (preflight) answered here. Auth runs per route after
  // the body was read (see routes.cpp), so a refused request never leaves unread bytes behind
  // on a keep-alive connection.
  httplib::Server::HandlerResponse pre_route(const httplib::Request& req, httplib::Response& res) {
    tl_request_start = std::chrono::steady_clock::now();
    tl_pre_routed = true;
    reset_current_route();
    res.set_header("X-Request-Id", request_id_from_header(req.get_header_value("X-Request-Id")));
    const bool preflight = req.method == "OPTIONS";
    for (const auto& [k, v] : cors_headers(cors, req.get_header_value("Origin"), preflight)) res.set_header(k, v);
    if (preflight) {
      res.status = 204;
      res.set_header("Allow", "GET, POST, DELETE, OPTIONS");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  }

  // Failures cpp-httplib answers itself (no route, body too large, malformed request) get the
  // error shape; our own error bodies pass through untouched.
  static httplib::Server::HandlerResponse library_error(const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (!res.has_header("X-Request-Id")) res.set_header("X-Request-Id", new_request_id());
    ApiError error = from_library_status(res.status);
    if (res.status == 404) {
      const auto allowed = allowed_methods(req.path);
      if (!allowed.empty()) {
        std::string list;
        for (const auto& m : allowed) list += (list.empty() ? "" : ", ") + m;
        res.set_header("Allow", list);
        error = ApiError(ErrorType::method_not_allowed, "METHOD_NOT_ALLOWED",
                         req.method + " is not allowed on " + printable(req.path) + "; allowed: " + list);
      } else {
        error = ApiError(ErrorType::not_found, "ROUTE_NOT_FOUND", "no route " + printable(req.method) + " " + printable(req.path));
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
  if (port == 0) {
    port = impl_->server.bind_to_any_port(impl_->config.host);
    if (port < 0) throw std::runtime_error("cannot bind " + impl_->config.host + " to a free port");
  } else if (!impl_->server.bind_to_port(impl_->config.host, port)) {
    throw std::runtime_error("cannot bind " + impl_->config.host + ":" + std::to_string(port) +
                             " (in use, or not an address of this machine)");
  }
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
  while (impl_->metrics.open_streams() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  impl_->stop_requested = true;
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
