// Prometheus text exposition for `GET /metrics`: HTTP requests by route and status, jobs
// submitted/rejected, jobs by state and queue depth (from the worker), step and job latency
// histograms, model load time, open SSE streams and the process's resident memory.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "actors/worker.h"

namespace sdw::net {

// A cumulative histogram with fixed upper bounds (+Inf implied). Thread-safe.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative), last = +Inf
  double sum_ = 0;
};

class Metrics {
 public:
  Metrics();
  void request(const std::string& route, int status);
  void job_submitted(const std::string& operation);
  void job_rejected(const std::string& code);
  void step_seconds(double seconds);
  void job_seconds(double seconds);  // completed jobs: start on a device to result
  void stream_opened() { ++open_streams_; }
  // Counts a stream in unless `max` are open already.
  bool try_open_stream(int64_t max) {
    int64_t n = open_streams_.load();
    do {
      if (n >= max) return false;
    } while (!open_streams_.compare_exchange_weak(n, n + 1));
    return true;
  }
  void stream_closed() { --open_streams_; }
  // The server's open connections and how many it refused (read when rendering).
  void connection_counts(std::function<std::pair<int64_t, int64_t>()> counts) { connection_counts_ = std::move(counts); }
  int64_t open_streams() const { return open_streams_; }

  // The whole exposition; `worker` and `rss_bytes` are read by the caller just before.
  std::string render(const WorkerHealth& worker, int64_t rss_bytes, const std::string& version) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, uint64_t> submitted_;
  std::map<std::string, uint64_t> rejected_;
  Histogram step_seconds_;
  Histogram job_seconds_;
  std::atomic<int64_t> open_streams_{0};
  std::function<std::pair<int64_t, int64_t>()> connection_counts_;
};

// VmRSS of this process (or of `pid`) from /proc/<pid>/status, in bytes; -1 if unreadable.
int64_t process_rss_bytes(int pid = 0);
// Escapes a Prometheus label value (backslash, double quote, newline).
std::string prometheus_label(const std::string& value);

}  // namespace sdw::net
