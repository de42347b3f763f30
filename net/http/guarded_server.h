// cpp-httplib's Server with the connection handling a public server needs, in place of the
// library's own: each connection is admitted against the connection table's caps (refused with
// 503 / 429 and closed otherwise), keeps one read buffer for its life (pipelined requests are
// answered in order), gets a whole-request deadline (408 when missed) and byte budget (413),
// and is closed after a response when a handler asks for it (a refused request whose body was
// never read). A thread budget that grows with the connections runs them; stop() wakes every
// connection that is waiting for or reading a request at once.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstddef>

#include "net/http/connection_table.h"

namespace sdw::net {

struct ConnectionSettings {
  ConnectionLimits limits;
  size_t keep_threads = 16;
  std::chrono::milliseconds keep_alive{5000};   // idle time between requests
  std::chrono::milliseconds header_timeout{10000};  // a request's line and headers, in all
  std::chrono::milliseconds request_timeout{30000};  // its headers and body, in all
  std::chrono::milliseconds write_timeout{10000};
  size_t max_body_bytes = 32u << 20;
  size_t max_requests_per_connection = 1000;
};

class GuardedServer : public httplib::Server {
 public:
  explicit GuardedServer(ConnectionSettings settings);
  ~GuardedServer() override;

  // Takes the listen backlog past cpp-httplib's 5 (call after binding).
  void widen_backlog();
  // Refuses new connections and wakes every one that waits for or reads a request.
  void stop_reading();
  // Shuts down every connection still open (after the drain).
  void close_connections();
  const ConnectionTable& connections() const { return table_; }

  // For handlers on a connection thread: close the connection after this response (its body
  // was not read, or its framing was not trusted).
  static void close_after_response();
  // For handlers: the request has passed its headers; the connection is being answered.
  static void mark_answering();
  // Whether the current request ran past its deadline or byte budget (for the error handler).
  static bool request_timed_out();
  static bool request_over_budget();
  // For handlers that wait (a job run inside the request): whether the client has closed or
  // reset its connection (end of stream, hang-up or an error on the socket; a client that only
  // shuts down its sending side counts as gone). False off a connection thread.
  static bool client_gone();

 private:
  bool process_and_close_socket(socket_t sock) override;
  void refuse(socket_t sock, ConnectionTable::Admission why);

  ConnectionSettings settings_;
  ConnectionTable table_;
  int stop_fd_ = -1;
};

}  // namespace sdw::net
