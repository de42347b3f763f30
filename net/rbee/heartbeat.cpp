// rbee registration and heartbeats (see heartbeat.h).
#include "net/rbee/heartbeat.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

namespace sdw::net {
namespace {

using clock_type = std::chrono::steady_clock;
constexpr size_t kMaxPending = 32;

bool is_rbee_status(const std::string& s) {
  return s == "starting" || s == "ready" || s == "busy" || s == "stopping" || s == "stopped";
}

}  // namespace

std::string rfc3339_utc(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%.*s.%03dZ", static_cast<int>(n), buf, static_cast<int>(ms % 1000));
  return out;
}

std::string rfc3339_utc_now() {
  const auto now = std::chrono::system_clock::now();
  return rfc3339_utc(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
}

std::string rbee_worker_status(const std::string& s) {
  if (is_rbee_status(s)) return s;
  if (s == "failed") return "stopped";  // the model never loaded: not available
  return "";
}

std::chrono::milliseconds backoff_delay(int failures, std::chrono::milliseconds initial, std::chrono::milliseconds cap,
                                        double unit_random) {
  const double base = std::min(static_cast<double>(cap.count()),
                               static_cast<double>(initial.count()) * std::pow(2.0, std::max(0, failures - 1)));
  const double jittered = base * (0.5 + 0.5 * std::clamp(unit_random, 0.0, 1.0));
  return std::chrono::milliseconds(std::max<int64_t>(1, static_cast<int64_t>(jittered)));
}

HeartbeatService::HeartbeatService(Worker& worker, HeartbeatConfig config)
    : worker_(worker), config_(std::move(config)), sink_(std::make_shared<Sink>()) {
  sink_->service = this;
}

HeartbeatService::~HeartbeatService() {
  stop();
  std::lock_guard<std::mutex> lock(sink_->mutex);
  sink_->service = nullptr;
}

void HeartbeatService::log(const std::string& line) const {
  if (config_.log)
    config_.log(line);
  else
    std::cerr << "sd-worker: " + line + "\n" << std::flush;
}

void HeartbeatService::start() {
  if (config_.queen_url.empty() && config_.callback_url.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (started_) return;
    started_ = true;
  }
  // Validate the URLs now (throws std::invalid_argument to the caller).
  if (!config_.queen_url.empty()) queen_ = std::make_unique<HttpClient>(config_.queen_url, config_.http);
  if (!config_.callback_url.empty()) hive_ = std::make_unique<HttpClient>(config_.callback_url, config_.http);
  // The listener outlives this object inside the worker: it goes through the shared sink.
  std::shared_ptr<Sink> sink = sink_;
  worker_.on_lifecycle([sink](const LifecycleEvent& e) {
    if (e.kind != LifecycleEvent::Kind::status) return;
    std::lock_guard<std::mutex> lock(sink->mutex);
    if (sink->service) sink->service->on_status(e.status);
  });
  thread_ = std::thread([this] { run(); });
}

void HeartbeatService::stop(std::chrono::milliseconds final_deadline) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!started_ || stop_requested_) {
      // fall through to join below
    } else {
      stop_requested_ = true;
      stop_deadline_ = clock_type::now() + final_deadline;
      if (current_ != "stopped") {
        current_ = "stopped";
        pending_.push_back("stopped");
      }
    }
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(sink_->mutex);
  sink_->service = nullptr;
}

void HeartbeatService::on_status(const std::string& line) {
  const std::string s = rbee_worker_status(line);
  if (s.empty()) return;  // not a status
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stop_requested_) return;
    if (s == current_ && pending_.empty()) return;
    current_ = s;
    pending_.push_back(s);
    while (pending_.size() > kMaxPending) pending_.pop_front();
  }
  cv_.notify_all();
}

std::string HeartbeatService::worker_info_json(const std::string& status) const {
  nlohmann::json info = {
      {"id", worker_id_},   {"model_id", model_id_},         {"device", device_},
      {"port", config_.port}, {"status", status}, {"implementation", "sd-worker-cpp"},
      {"version", config_.version},
  };
  return info.dump();
}

void HeartbeatService::note(const char* target, const std::string& url, std::string& last_state,
                            const HttpClientResult& r) {
  const std::string state = r.ok() ? "ok" : r.error;
  if (state == last_state) return;
  const bool was_failing = !last_state.empty() && last_state != "ok";
  last_state = state;
  if (r.ok())
    log(std::string(target) + " " + url + (was_failing ? ": reachable again" : ": reachable"));
  else
    log(std::string(target) + " " + url + ": " + r.error + " (retrying with backoff)");
}

void HeartbeatService::run() {
  if (config_.model_id.empty() || config_.device.empty()) {
    try {
      const WorkerHealth h = worker_.health();
      if (config_.model_id.empty()) config_.model_id = h.model;
      if (config_.device.empty()) config_.device = h.device;
    } catch (const std::exception& e) {
      log(std::string("heartbeat: cannot read the worker's health: ") + e.what());
    }
  }
  model_id_ = config_.model_id;
  device_ = config_.device;
  worker_id_ = config_.worker_id.empty() ? "sd-worker-" + std::to_string(config_.port) : config_.worker_id;
  const auto cap = std::min(config_.backoff_max, config_.interval);

  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  int failures = 0;
  std::string last_ok;  // last status every target accepted
  auto next_due = clock_type::now();

  std::unique_lock<std::mutex> lk(mutex_);
  for (;;) {
    const auto now = clock_type::now();
    if (stop_requested_) {
      if (now >= stop_deadline_) break;
      if (pending_.empty() && last_ok == "stopped") break;
    }
    if (pending_.empty() && now < next_due) {
      cv_.wait_until(lk, stop_requested_ ? std::min(next_due, stop_deadline_) : next_due);
      continue;
    }
    std::string status;
    if (!pending_.empty()) {
      status = pending_.front();
      pending_.pop_front();
    } else {
      status = current_;
    }
    lk.unlock();

    bool ok = true;
    if (hive_ && !registered_ && (status == "ready" || status == "busy")) {
      const HttpClientResult r = hive_->post_json("", worker_info_json(status));
      note("registration with", hive_->base_url(), hive_state_, r);
      registered_ = r.ok();
      ok = registered_;
    }
    if (queen_) {
      const std::string body =
          "{\"worker\":" + worker_info_json(status) + ",\"timestamp\":\"" + rfc3339_utc_now() + "\"}";
      const HttpClientResult r = queen_->post_json("/v1/worker-heartbeat", body);
      note("heartbeat to queen", queen_->base_url(), queen_state_, r);
      ok = ok && r.ok();
    }

    lk.lock();
    if (ok) {
      failures = 0;
      last_ok = status;
      next_due = clock_type::now() + config_.interval;
    } else {
      ++failures;
      pending_.clear();  // catch up with the current status, not a backlog
      next_due = clock_type::now() + backoff_delay(failures, config_.backoff_initial, cap, unit(rng));
    }
  }
}

}  // namespace sdw::net
