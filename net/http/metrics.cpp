// Prometheus metrics (see metrics.h).
#include "net/http/metrics.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace sdw::net {
namespace {

std::string fmt(double v) {
  std::ostringstream os;
  os.precision(10);
  os << v;
  return os.str();
}

void header(std::ostream& os, const char* name, const char* type, const char* help) {
  os << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

void histogram(std::ostream& os, const char* name, const char* help, const Histogram::Snapshot& s) {
  header(os, name, "histogram", help);
  for (size_t i = 0; i < s.bounds.size(); ++i)
    os << name << "_bucket{le=\"" << fmt(s.bounds[i]) << "\"} " << s.cumulative[i] << "\n";
  os << name << "_bucket{le=\"+Inf\"} " << s.count << "\n";
  os << name << "_sum " << fmt(s.sum) << "\n" << name << "_count " << s.count << "\n";
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {
  std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::observe(double value) {
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  ++counts_[i];
  sum_ += value;
}

Histogram::Snapshot Histogram::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Snapshot s;
  s.bounds = bounds_;
  uint64_t acc = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    acc += counts_[i];
    if (i < bounds_.size()) s.cumulative.push_back(acc);
  }
  s.count = acc;
  s.sum = sum_;
  return s;
}

Metrics::Metrics()
    : step_seconds_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      job_seconds_({0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}) {}

void Metrics::request(const std::string& route, int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{route, status}];
}

void Metrics::job_submitted(const std::string& operation) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++submitted_[operation];
}

void Metrics::job_rejected(const std::string& code) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++rejected_[code];
}

void Metrics::step_seconds(double seconds) { step_seconds_.observe(seconds); }
void Metrics::job_seconds(double seconds) { job_seconds_.observe(seconds); }

std::string Metrics::render(const WorkerHealth& w, int64_t rss_bytes, const std::string& version) const {
  std::ostringstream os;
  header(os, "sdw_worker_info", "gauge", "Worker identity (always 1).");
  os << "sdw_worker_info{implementation=\"sd-worker-cpp\",version=\"" << prometheus_label(version) << "\",model=\""
     << prometheus_label(w.model) << "\",device=\"" << prometheus_label(w.device) << "\"} 1\n";
  header(os, "sdw_model_ready", "gauge", "1 when the model is loaded and jobs run.");
  os << "sdw_model_ready " << (w.ready ? 1 : 0) << "\n";
  header(os, "sdw_model_load_seconds", "gauge", "Time the model took to load.");
  os << "sdw_model_load_seconds " << fmt(w.model_load_ms / 1000.0) << "\n";
  header(os, "sdw_jobs", "gauge", "Jobs now queued or running.");
  os << "sdw_jobs{state=\"queued\"} " << w.queued << "\nsdw_jobs{state=\"running\"} " << w.running << "\n";
  header(os, "sdw_queue_depth", "gauge", "Jobs waiting for a device.");
  os << "sdw_queue_depth " << w.queued << "\n";
  header(os, "sdw_jobs_finished_total", "counter", "Jobs finished, by final state.");
  os << "sdw_jobs_finished_total{state=\"completed\"} " << w.jobs_completed << "\n"
     << "sdw_jobs_finished_total{state=\"failed\"} " << w.jobs_failed << "\n"
     << "sdw_jobs_finished_total{state=\"cancelled\"} " << w.jobs_cancelled << "\n";
  {
    std::lock_guard<std::mutex> lock(mutex_);
    header(os, "sdw_jobs_submitted_total", "counter", "Jobs accepted over HTTP, by operation.");
    for (const auto& [op, n] : submitted_) os << "sdw_jobs_submitted_total{operation=\"" << prometheus_label(op) << "\"} " << n << "\n";
    header(os, "sdw_jobs_rejected_total", "counter", "Job submissions refused, by error code.");
    for (const auto& [code, n] : rejected_) os << "sdw_jobs_rejected_total{code=\"" << prometheus_label(code) << "\"} " << n << "\n";
    header(os, "sdw_http_requests_total", "counter", "HTTP requests answered, by route and status.");
    for (const auto& [key, n] : requests_)
      os << "sdw_http_requests_total{route=\"" << prometheus_label(key.first) << "\",status=\"" << key.second << "\"} " << n << "\n";
  }
  histogram(os, "sdw_step_duration_seconds", "Wall time of one denoising step.", step_seconds_.snapshot());
  histogram(os, "sdw_job_duration_seconds", "Wall time of a completed job, from its start on a device to its result.",
            job_seconds_.snapshot());
  header(os, "sdw_sse_streams", "gauge", "Open SSE job streams.");
  os << "sdw_sse_streams " << open_streams_.load() << "\n";
  if (connection_counts_) {
    const auto [open, refused] = connection_counts_();
    header(os, "sdw_http_connections", "gauge", "Open HTTP connections.");
    os << "sdw_http_connections " << open << "\n";
    header(os, "sdw_http_connections_refused_total", "counter", "Connections refused at a connection cap or while stopping.");
    os << "sdw_http_connections_refused_total " << refused << "\n";
  }
  header(os, "process_resident_memory_bytes", "gauge", "Resident set size of the worker process.");
  os << "process_resident_memory_bytes " << rss_bytes << "\n";
  return os.str();
}

int64_t process_rss_bytes(int pid) {
  std::ifstream in(pid > 0 ? "/proc/" + std::to_string(pid) + "/status" : std::string("/proc/self/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, 6, "VmRSS:") == 0) {
      std::istringstream ls(line.substr(6));
      int64_t kb = -1;
      ls >> kb;
      return kb < 0 ? -1 : kb * 1024;
    }
  }
  return -1;
}

std::string prometheus_label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

}  // namespace sdw::net
