// The worker's HTTP server: cpp-httplib with the route table, one pre-routing step (request id,
// CORS, OPTIONS), one error handler that gives every failure the error shape, a request log and
// a sized thread pool. Talks to the actors only through the Worker facade.
#pragma once

#include <memory>

#include "actors/worker.h"
#include "net/http/http_config.h"

namespace sdw::net {

class HttpServer {
 public:
  HttpServer(Worker& worker, HttpConfig config);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (port 0: any free port); returns the bound port. Throws std::runtime_error.
  int bind();
  // Serves until stop(); returns when every connection thread has finished.
  void run();
  // Stops accepting connections; open SSE streams end at their next poll. Thread-safe, idempotent.
  void stop();
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sdw::net
