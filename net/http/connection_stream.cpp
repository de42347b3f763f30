// The connection stream (see connection_stream.h).
#include "net/http/connection_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sdw::net {
namespace {

constexpr size_t kRecvChunk = 16 * 1024;

void address_of(const sockaddr_storage& addr, std::string& ip, int& port) {
  char host[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
  }
  ip = host;
}

}  // namespace

ConnectionStream::ConnectionStream(int fd, int stop_fd, std::chrono::milliseconds write_timeout)
    : fd_(fd), stop_fd_(stop_fd), write_timeout_(write_timeout) {}

int ConnectionStream::wait(short events, Clock::time_point until, bool watch_stop) const {
  while (true) {
    pollfd fds[2] = {{fd_, events, 0}, {stop_fd_, POLLIN, 0}};
    const nfds_t n = watch_stop && stop_fd_ >= 0 ? 2 : 1;
    int timeout_ms = -1;
    if (until != Clock::time_point::max()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      timeout_ms = static_cast<int>(std::clamp<long long>(left + 1, 0, 1 << 30));
    }
    const int r = ::poll(fds, n, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (n == 2 && (fds[1].revents & POLLIN)) {
      stopped_ = true;
      return -1;
    }
    if (r == 0) {
      if (Clock::now() >= until) return 0;
      continue;  // woke a little early
    }
    if (fds[0].revents & (events | POLLHUP | POLLERR)) return 1;  // a read or write then says what happened
    return -1;
  }
}

bool ConnectionStream::is_readable() const {
  return buffer_pos_ < buffer_.size() || wait(POLLIN, deadline_, true) == 1;
}

bool ConnectionStream::is_writable() const {
  pollfd fds = {fd_, POLLOUT, 0};
  if (::poll(&fds, 1, 0) > 0 && (fds.revents & (POLLERR | POLLHUP))) return false;  // the peer is gone
  return wait(POLLOUT, Clock::now() + write_timeout_, false) == 1;
}

bool ConnectionStream::wait_for_request(std::chrono::milliseconds idle) {
  if (buffer_pos_ < buffer_.size()) return true;
  if (wait(POLLIN, Clock::now() + idle, true) != 1) return false;
  char probe;
  const ssize_t n = ::recv(fd_, &probe, 1, MSG_PEEK);
  return n == 1;  // 0: the client closed between requests
}

void ConnectionStream::start_request(Clock::time_point deadline, size_t budget) {
  deadline_ = deadline;
  budget_ = budget;
  request_bytes_ = 0;
  response_bytes_ = 0;
  timed_out_ = false;
  over_budget_ = false;
}

ssize_t ConnectionStream::read(char* ptr, size_t size) {
  if (request_bytes_ >= budget_) {
    over_budget_ = true;
    return -1;
  }
  size = std::min(size, budget_ - request_bytes_);
  if (buffer_pos_ >= buffer_.size()) {
    const int ready = wait(POLLIN, deadline_, true);
    if (ready == 0) timed_out_ = true;
    if (ready != 1) return -1;
    buffer_.resize(kRecvChunk);
    ssize_t n;
    do {
      n = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
      buffer_.clear();
      buffer_pos_ = 0;
      return n;
    }
    buffer_.resize(static_cast<size_t>(n));
    buffer_pos_ = 0;
  }
  const size_t take = std::min(size, buffer_.size() - buffer_pos_);
  std::memcpy(ptr, buffer_.data() + buffer_pos_, take);
  buffer_pos_ += take;
  request_bytes_ += take;
  return static_cast<ssize_t>(take);
}

ssize_t ConnectionStream::write(const char* ptr, size_t size) {
  size_t sent = 0;
  while (sent < size) {
    if (wait(POLLOUT, Clock::now() + write_timeout_, false) != 1) return sent ? static_cast<ssize_t>(sent) : -1;
    const ssize_t n = ::send(fd_, ptr + sent, size - sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return sent ? static_cast<ssize_t>(sent) : -1;
    sent += static_cast<size_t>(n);
  }
  response_bytes_ += sent;
  return static_cast<ssize_t>(sent);
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) address_of(addr, ip, port);
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) address_of(addr, ip, port);
}

}  // namespace sdw::net
