// One client connection as cpp-httplib's Stream: a read buffer kept for the connection's whole
// life (so pipelined requests are served in order), an absolute deadline for each request's
// headers and body (a client dripping bytes does not extend it), a byte budget per request, and
// a stop descriptor that wakes every read and wait when the server shuts down.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <string>

namespace sdw::net {

class ConnectionStream final : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;

  // `stop_fd`: becomes readable when the server stops (an eventfd); -1 for none.
  ConnectionStream(int fd, int stop_fd, std::chrono::milliseconds write_timeout);

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

  // Waits up to `idle` for the next request's first byte (buffered bytes count at once). False on
  // idle timeout, end of stream, error or stop.
  bool wait_for_request(std::chrono::milliseconds idle);
  // Starts a request: its bytes must all arrive before `deadline` and number at most `budget`.
  void start_request(Clock::time_point deadline, size_t budget);
  // Once the headers are in: the body gets a later deadline and a larger budget.
  void extend(Clock::time_point deadline, size_t budget) {
    deadline_ = deadline;
    budget_ = budget;
  }

  bool timed_out() const { return timed_out_; }          // this request missed its deadline
  bool over_budget() const { return over_budget_; }      // this request sent too many bytes
  bool stopped() const { return stopped_; }              // the server is stopping
  size_t request_bytes() const { return request_bytes_; }
  size_t response_bytes() const { return response_bytes_; }

 private:
  // poll() on the socket (events), and on the stop descriptor when `watch_stop` (reads and idle
  // waits; writes go on while the server drains), until `until`: 1 ready, 0 timeout, -1 error
  // or stop.
  int wait(short events, Clock::time_point until, bool watch_stop) const;

  int fd_;
  int stop_fd_;
  std::chrono::milliseconds write_timeout_;
  std::string buffer_;
  size_t buffer_pos_ = 0;
  Clock::time_point deadline_ = Clock::time_point::max();
  size_t budget_ = static_cast<size_t>(-1);
  size_t request_bytes_ = 0;
  size_t response_bytes_ = 0;
  bool timed_out_ = false;
  bool over_budget_ = false;
  mutable bool stopped_ = false;
};

}  // namespace sdw::net
