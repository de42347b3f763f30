// The worker's HTTP server: cpp-httplib with the route table, one pre-routing step (request id,
// CORS, OPTIONS), one error handler that gives every failure the error shape, a request log and
// a sized thread pool. Talks to the actors only through the Worker facade.
#pragma once

#include <chrono>
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
  // Stops accepting connections; open SSE streams end at their next poll. First waits up to
  // `drain` for the open SSE streams to end by themselves: after the worker has shut down every
  // job has ended, so each stream still sends its last event and marker rather than being cut.
  // Thread-safe, idempotent.
  void stop(std::chrono::milliseconds drain = std::chrono::milliseconds(0));
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sdw::net
