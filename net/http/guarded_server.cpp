// The guarded server (see guarded_server.h).
#include "net/http/guarded_server.h"

#include <malloc.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "net/http/connection_stream.h"
#include "net/http/errors.h"
#include "net/http/middleware.h"
#include "net/http/thread_budget.h"

namespace sdw::net {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kHeaderBudget = 64 * 1024;  // a request line and headers, in bytes
constexpr size_t kTrimAfterBytes = 1u << 20;  // give freed memory back after a request this big

struct ConnectionState {
  ConnectionStream* stream = nullptr;
  ConnectionTable* table = nullptr;
  int fd = -1;
  Clock::time_point request_start;
  std::chrono::milliseconds request_timeout{0};
  size_t body_budget = 0;
  bool close_after = false;
};
thread_local ConnectionState* tl_connection = nullptr;

std::string peer_address(int fd) {
  ConnectionStream probe(fd, -1, std::chrono::milliseconds(0));
  std::string ip;
  int port = 0;
  probe.get_remote_ip_and_port(ip, port);
  return ip;
}

// A whole response for a connection that never reached the router.
std::string raw_error(const ApiError& error, const char* reason, int retry_after_s = 0) {
  const std::string body = dump_json(error_json(error, new_request_id()));
  std::string out = "HTTP/1.1 " + std::to_string(error.status()) + " " + reason + "\r\n";
  out += "Content-Type: application/json\r\nConnection: close\r\n";
  if (retry_after_s > 0) out += "Retry-After: " + std::to_string(retry_after_s) + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return out;
}

// Closes after the last response so the client reads it: stop sending, then read and drop what
// the client still sends (a body never read) for a short while, so the close does not turn into
// a reset that destroys the response on its way.
void linger_close(int fd, int stop_fd, std::chrono::milliseconds linger) {
  ::shutdown(fd, SHUT_WR);
  const auto until = Clock::now() + linger;
  char sink[16 * 1024];
  while (Clock::now() < until) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (::poll(fds, stop_fd >= 0 ? 2 : 1, static_cast<int>(std::max<long long>(left, 1))) <= 0) break;
    if (fds[1].revents & POLLIN) break;
    if (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) <= 0) break;
  }
}

void trim_heap_now_and_then() {
  static std::atomic<int64_t> last_ms{0};
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
  int64_t last = last_ms.load();
  if (now - last < 1000 || !last_ms.compare_exchange_strong(last, now)) return;
  ::malloc_trim(0);
}

}  // namespace

GuardedServer::GuardedServer(ConnectionSettings settings) : settings_(settings), table_(settings.limits) {
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const size_t keep = settings_.keep_threads;
  const size_t max_threads = static_cast<size_t>(std::max(settings_.limits.max_connections, 1)) + 16;
  new_task_queue = [keep, max_threads] { return new ThreadBudget(keep, max_threads); };
  set_keep_alive_timeout(std::max<time_t>(1, settings_.keep_alive.count() / 1000));
  set_keep_alive_max_count(settings_.max_requests_per_connection);
  set_payload_max_length(settings_.max_body_bytes);
}

GuardedServer::~GuardedServer() {
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

void GuardedServer::widen_backlog() {
  const socket_t sock = svr_sock_;
  if (sock != INVALID_SOCKET) ::listen(sock, SOMAXCONN);
}

void GuardedServer::stop_reading() {
  table_.refuse_new();
  const uint64_t one = 1;
  if (stop_fd_ >= 0) [[maybe_unused]] auto n = ::write(stop_fd_, &one, sizeof one);
}

void GuardedServer::close_connections() { table_.close_all(); }

void GuardedServer::close_after_response() {
  if (tl_connection) tl_connection->close_after = true;
}

void GuardedServer::mark_answering() {
  ConnectionState* c = tl_connection;
  if (!c) return;
  c->table->set_phase(c->fd, ConnectionTable::Phase::answering);
  c->stream->extend(c->request_start + c->request_timeout, c->stream->request_bytes() + c->body_budget);
}

bool GuardedServer::client_gone() {
  const ConnectionState* c = tl_connection;
  if (!c) return false;
  pollfd p{c->fd, static_cast<short>(POLLIN | POLLRDHUP), 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
  char byte;
  // Readable: a pipelined next request (still here) or the end of the stream (gone).
  return (p.revents & POLLIN) && ::recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

bool GuardedServer::request_timed_out() { return tl_connection && tl_connection->stream->timed_out(); }
bool GuardedServer::request_over_budget() { return tl_connection && tl_connection->stream->over_budget(); }

void GuardedServer::refuse(socket_t sock, ConnectionTable::Admission why) {
  std::string reply;
  switch (why) {
    case ConnectionTable::Admission::client_full:
      reply = raw_error(ApiError(ErrorType::rate_limit, "TOO_MANY_CONNECTIONS",
                                 "too many open connections from this address; close some and retry"),
                        "Too Many Requests", 1);
      break;
    case ConnectionTable::Admission::stopping:
      reply = raw_error(ApiError(ErrorType::unavailable, "SHUTTING_DOWN", "the worker is shutting down"),
                        "Service Unavailable");
      break;
    default:
      reply = raw_error(ApiError(ErrorType::unavailable, "TOO_MANY_CONNECTIONS",
                                 "the worker has as many open connections as it serves; retry shortly"),
                        "Service Unavailable", 1);
      break;
  }
  [[maybe_unused]] auto n = ::send(sock, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  linger_close(sock, stop_fd_, std::chrono::milliseconds(100));
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  const auto verdict = table_.admit(sock, peer_address(sock));
  if (verdict != ConnectionTable::Admission::admitted) {
    refuse(sock, verdict);
    ::close(sock);
    return true;
  }
  ConnectionStream stream(sock, stop_fd_, settings_.write_timeout);
  ConnectionState state;
  state.stream = &stream;
  state.table = &table_;
  state.fd = sock;
  state.request_timeout = settings_.request_timeout;
  // Chunk framing adds bytes to a body; the exact body limit is enforced where it is read.
  state.body_budget = settings_.max_body_bytes + settings_.max_body_bytes / 4 + kHeaderBudget;
  tl_connection = &state;
  bool linger = false;
  size_t largest = 0;
  for (size_t n = 0; n < settings_.max_requests_per_connection; ++n) {
    table_.set_phase(sock, ConnectionTable::Phase::waiting);
    if (!stream.wait_for_request(n == 0 ? settings_.header_timeout : settings_.keep_alive)) break;
    state.request_start = Clock::now();
    state.close_after = false;
    stream.start_request(state.request_start + settings_.header_timeout, kHeaderBudget);
    const bool last = n + 1 == settings_.max_requests_per_connection;
    bool closed = false;
    const bool ok = process_request(stream, last, closed, nullptr);
    largest = std::max(largest, stream.request_bytes());
    if (!ok && stream.response_bytes() == 0 && !stream.stopped()) {
      std::string reply;
      if (stream.timed_out())
        reply = raw_error(ApiError(ErrorType::invalid_request, "REQUEST_TIMEOUT",
                                   "the request did not arrive in time").with_status(408),
                          "Request Timeout");
      else if (stream.over_budget())
        reply = raw_error(ApiError(ErrorType::payload_too_large, "REQUEST_TOO_LARGE",
                                   "the request's headers or body are too large"),
                          "Payload Too Large");
      if (!reply.empty()) {
        stream.write(reply.data(), reply.size());
        linger = true;
      }
    }
    if (state.close_after) linger = true;
    if (!ok || closed || state.close_after || stream.stopped()) break;
  }
  tl_connection = nullptr;
  table_.release(sock);
  if (linger) linger_close(sock, stop_fd_, std::chrono::milliseconds(1000));
  ::close(sock);
  if (largest >= kTrimAfterBytes) trim_heap_now_and_then();
  return true;
}

}  // namespace sdw::net
