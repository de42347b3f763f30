// Helpers shared by the Worker-facade actor tests (test_actors*.cpp): configs, jobs, event streams. Header-only.
#pragma once

#include <catch.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actors/worker.h"
#include "model/image/image_io.h"

namespace sdw::test::actor_jobs {

using namespace std::chrono_literals;

inline WorkerConfig demo_config() {
  WorkerConfig c;
  c.model = "demo";
  c.request_timeout = 30s;
  c.limits.max_steps = 1000;  // long jobs to cancel, time out and shut down
  return c;
}

inline std::unique_ptr<Worker> start_ready(const WorkerConfig& c) {
  auto w = Worker::start(c);
  REQUIRE(w->wait_ready(120s));
  return w;
}

inline JobSubmission small_job(int steps, uint64_t seed = 42, int side = 64) {
  JobSubmission j;
  j.request.prompt = "a red apple on a table";
  j.request.width = j.request.height = side;
  j.request.steps = steps;
  j.request.seed = seed;
  return j;
}

// Reads a stream until its terminal event (or `limit`).
inline std::vector<JobEvent> read_all(EventStream& s, std::chrono::seconds limit = 120s) {
  std::vector<JobEvent> out;
  const auto end = std::chrono::steady_clock::now() + limit;
  JobEvent e;
  while (!s.finished() && std::chrono::steady_clock::now() < end)
    if (s.next(e, 1s)) out.push_back(e);
  return out;
}

inline std::vector<JobEvent> run_job(Worker& w, const JobSubmission& j) { return read_all(*w.subscribe(w.submit(j))); }

inline std::string types_of(const std::vector<JobEvent>& events) {
  std::string s;
  for (const auto& e : events) {
    s += s.empty() ? "" : ",";
    s += to_string(e.type);
    if (e.type == JobEvent::Type::progress || e.type == JobEvent::Type::preview) s += std::to_string(e.step);
  }
  return s;
}

// A completed job's events: the job_completed narration comes right before complete.
inline std::string expected_types(int steps) {
  std::string s = "queued,started";
  for (int i = 1; i <= steps; ++i) s += ",progress" + std::to_string(i);
  return s + ",narration,complete";
}

inline WorkerErrc submit_error(Worker& w, const JobSubmission& j) {
  try {
    w.submit(j);
  } catch (const WorkerError& e) {
    return e.code();
  }
  FAIL("submit did not throw");
  return WorkerErrc::internal;
}

inline void check_complete(const JobEvent& e, int side) {
  REQUIRE(e.type == JobEvent::Type::complete);
  REQUIRE(e.images.size() == 1);
  CHECK(e.images[0].format == "png");
  Image img = decode_image(e.images[0].bytes);
  CHECK(img.width == side);
  CHECK(img.height == side);
}

// The worker's narration lines ("actor: human"), collected from its lifecycle listener. Declare
// it before the worker: the worker narrates while it shuts down.
class NarrationLog {
 public:
  void attach(Worker& w) {
    w.on_lifecycle([this](const LifecycleEvent& e) {
      std::lock_guard<std::mutex> lock(mutex_);
      lines_.push_back(e.actor + ": " + e.human);
    });
  }
  bool contains(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& l : lines_)
      if (l.find(text) != std::string::npos) return true;
    return false;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

}  // namespace sdw::test::actor_jobs
