// rbee liveness: registration with the hive (`--callback-url`) once the worker is ready, and
// `POST {queen}/v1/worker-heartbeat` with `{"worker": WorkerInfo, "timestamp": RFC 3339}` every
// interval and at once on every status change (starting, ready, busy, stopping, stopped).
// A plain component: its own thread, a condition variable for the interval and for shutdown.
// It learns the status from Worker::on_lifecycle (the listener only queues; it never blocks
// the worker) and reads Worker::health() once for the model and device. An unreachable, failing
// or hanging hive/queen costs retries with capped exponential backoff and jitter, short timeouts
// and one log line per state change; it never blocks or crashes the worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "actors/worker.h"
#include "net/rbee/http_client.h"

namespace sdw::net {

struct HeartbeatConfig {
  std::string worker_id;  // "" -> "sd-worker-<port>"
  std::string model_id;   // "" -> Worker::health().model
  std::string device;     // "" -> Worker::health().device
  int port = 0;
  std::string version = "0.1.0";
  std::string queen_url;     // "" -> no heartbeats
  std::string callback_url;  // "" -> no registration
  std::chrono::milliseconds interval{30000};
  HttpClientOptions http;  // connect/read/write timeouts (2 s each by default)
  std::chrono::milliseconds backoff_initial{250};
  std::chrono::milliseconds backoff_max{15000};  // also never above `interval`
  std::function<void(const std::string&)> log;   // default: stderr
};

// "2026-11-27T01:02:03.456Z"
std::string rfc3339_utc_now();
std::string rfc3339_utc(int64_t epoch_ms);
// Worker statuses as rbee knows them; "failed" (model load failed) is reported as "stopped".
std::string rbee_worker_status(const std::string& worker_status);
// Capped exponential backoff with "full jitter" in [base/2, base] for the n-th failure (n >= 1).
std::chrono::milliseconds backoff_delay(int failures, std::chrono::milliseconds initial, std::chrono::milliseconds cap,
                                        double unit_random);

class HeartbeatService {
 public:
  HeartbeatService(Worker& worker, HeartbeatConfig config);
  ~HeartbeatService();  // stop() with a short final deadline
  HeartbeatService(const HeartbeatService&) = delete;
  HeartbeatService& operator=(const HeartbeatService&) = delete;

  // Subscribes to the worker's status changes and starts the thread (no-op without URLs).
  void start();
  // Sends the statuses still queued (ending with "stopped") for up to `final_deadline`, then
  // ends the thread. Idempotent.
  void stop(std::chrono::milliseconds final_deadline = std::chrono::milliseconds(3000));

  // Called by the worker's listener with each status; also usable directly. Ignores non-statuses.
  void on_status(const std::string& status);

 private:
  void run();
  std::string worker_info_json(const std::string& status) const;
  void log(const std::string& line) const;
  // Logs on a change of the target's state only ("ok" or the error text).
  void note(const char* target, const std::string& url, std::string& last_state, const HttpClientResult& r);

  // The worker keeps its listener for its whole life; it reaches this object through the sink,
  // which stop() disconnects.
  struct Sink {
    std::mutex mutex;
    HeartbeatService* service = nullptr;
  };

  Worker& worker_;
  HeartbeatConfig config_;
  std::shared_ptr<Sink> sink_;
  std::unique_ptr<HttpClient> queen_, hive_;
  std::string model_id_, device_, worker_id_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> pending_;  // status changes not yet sent, in order
  std::string current_ = "starting";
  bool stop_requested_ = false;
  std::chrono::steady_clock::time_point stop_deadline_{};
  bool started_ = false;
  std::thread thread_;

  // Thread-owned.
  bool registered_ = false;
  std::string queen_state_, hive_state_;  // "" (none yet), "ok" or the last error
};

}  // namespace sdw::net
