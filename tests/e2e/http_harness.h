// End-to-end HTTP test harness: runs the real `sd-worker serve` binary as a child process on a
// free loopback port, waits for it by polling /health and /ready a bounded number of times, and
// talks to it with cpp-httplib's client: JSON requests and an SSE reader that parses the stream
// event by event.
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "test_util.h"  // run_process, child_environment

namespace sdw::test {

// A loopback port that was free a moment ago.
int free_port();

// The built binary's path, or an install-name link next to it ("sd-worker-cpu").
std::string worker_binary(const std::string& install_name = "");



class WorkerProcess {
 public:
  enum class WaitFor { ready, listening };
  // `<binary> serve --host 127.0.0.1 --port <free> <args...>` (or, with `serve_word` false,
  // without the sub-command, as rbee-hive spawns it), stdout and stderr into a log file.
  // `env` adds variables. Waits until /ready is 200 (or, with WaitFor::listening, until /health
  // answers at all). Retries with another port if the first one was taken meanwhile. `binary`
  // replaces the built sd-worker (e.g. its install-name link sd-worker-cpu next to it). With
  // `loopback_host` false no --host is passed (the worker's own default address is tested).
  explicit WorkerProcess(std::vector<std::string> args, std::vector<std::pair<std::string, std::string>> env = {},
                         bool serve_word = true, WaitFor wait_for = WaitFor::ready, std::string binary = {},
                         bool loopback_host = true);
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool alive();
  // SIGTERM, then waits up to `timeout` (SIGKILL after it). Returns the exit code, or
  // 128 + signal when killed by one.
  int stop(std::chrono::seconds timeout = std::chrono::seconds(60));
  std::string log() const;
  httplib::Client client(int read_timeout_s = 60) const;
  int64_t rss_bytes() const;  // VmRSS from /proc/<pid>/status

 private:
  bool start(const std::vector<std::string>& args, const std::vector<std::pair<std::string, std::string>>& env,
             bool serve_word, WaitFor wait_for);
  bool wait_ready(int tries, WaitFor wait_for);

  std::string binary_;
  bool loopback_host_ = true;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
  int exit_code_ = -1;
};

struct HttpReply {
  int status = 0;  // 0: no response (connection error)
  std::string raw;
  nlohmann::json body;  // parsed when the body is JSON, null otherwise
  httplib::Headers headers;
  std::string header(const std::string& key) const;
};

HttpReply http_get(int port, const std::string& path, const httplib::Headers& headers = {});
HttpReply http_delete(int port, const std::string& path, const httplib::Headers& headers = {});
HttpReply http_post(int port, const std::string& path, const std::string& body,
                    const std::string& content_type = "application/json", const httplib::Headers& headers = {});
HttpReply post_json(int port, const nlohmann::json& body, const httplib::Headers& headers = {});
// Sends raw bytes on a fresh connection and returns the server's first response.
std::string raw_exchange(int port, const std::string& bytes);

struct SseEvent {
  std::string id;
  std::string event;  // "" for markers
  std::string data;
  nlohmann::json json() const;  // data parsed (null for markers)
};

struct SseStream {
  int status = 0;
  std::string content_type;
  std::vector<SseEvent> events;  // named events and markers, in order
  int keepalives = 0;            // ": keep-alive" comments
  int keepalives_before_progress = 0;
  std::vector<std::string> markers;  // "[DONE]", "[ERROR] ...", "[CANCELLED]"
  bool dropped = false;              // we closed it (on_event returned false)
  bool data_after_marker = false;    // anything but a clean end after the marker
  std::string raw;
  std::vector<SseEvent> named(const std::string& name) const;
};

// Reads GET `path` as an SSE stream until the server ends it. `on_event` sees each event (and
// marker) as it arrives, and each comment as an event named ":" (not kept in `events`);
// returning false drops the connection.
SseStream read_sse(int port, const std::string& path, const httplib::Headers& headers = {},
                   std::function<bool(const SseEvent&)> on_event = {}, int timeout_s = 120);

// The smallest valid job body for the demo model (64x64, `steps` steps, fixed seed).
nlohmann::json demo_job(int steps = 4, uint64_t seed = 7);

// Polls GET /v1/jobs/<id> until its state is `state` (or another terminal one); bounded tries.
std::string wait_for_state(int port, const std::string& job_id, const std::string& state, int tries = 600,
                           const httplib::Headers& headers = {});

}  // namespace sdw::test
