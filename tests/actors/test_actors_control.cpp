// The Worker facade (actors/worker.h) steering jobs over a real actor system: cancel mid-job
// (within one step), cancel of a queued job, unknown job ids and cancel on disconnect, the bounded
// queue (queue_full), request validation and unknown models, the dispatcher over two devices with
// its narrated load progress, and graceful shutdown. Deadlines (running and queued jobs, the
// default and a job's own) are in test_job_deadlines.cpp, in simulated time on CAF's test
// coordinator. No sleeps: every wait is on an event stream, a reply or a future, with a timeout.
#include <catch.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>

#include "actors/actor_jobs.h"
#include "actors/worker.h"

using namespace sdw;
using namespace sdw::test::actor_jobs;
using namespace std::chrono_literals;

TEST_CASE("cancel mid-job stops within one step", "[actors]") {
  std::atomic<int> denoise_steps{0};
  WorkerConfig c = demo_config();
  c.fault_injection = [&](const std::string& stage) {
    if (stage == "denoiser") ++denoise_steps;
  };
  auto w = start_ready(c);
  const std::string id = w->submit(small_job(20, 3, 128));
  auto s = w->subscribe(id);
  std::vector<JobEvent> seen;
  JobEvent e;
  while (!s->finished()) {
    REQUIRE(s->next(e, 30s));
    seen.push_back(e);
    if (e.type == JobEvent::Type::progress && e.step == 2) break;
  }
  REQUIRE(seen.back().type == JobEvent::Type::progress);
  w->cancel(id);
  auto rest = read_all(*s);
  REQUIRE(!rest.empty());
  int more_progress = 0;
  for (const auto& r : rest) more_progress += r.type == JobEvent::Type::progress;
  CHECK(more_progress <= 1);
  CHECK(rest.back().type == JobEvent::Type::cancelled);
  CHECK(rest.back().error_code == "cancelled");
  CHECK(s->finished());
  CHECK(w->status(id).state == JobState::cancelled);
  try {
    w->cancel(id);
    FAIL("cancel of a cancelled job did not throw");
  } catch (const WorkerError& err) {
    CHECK(err.code() == WorkerErrc::already_finished);
  }
  // The device stopped too: a 1-step job runs next, and the cancelled job ran at most one step
  // beyond the two it reported (the step in flight when the cancel arrived).
  auto next = run_job(*w, small_job(1));
  CHECK(next.back().type == JobEvent::Type::complete);
  std::cout << "cancel after progress 2/20: " << denoise_steps.load() - 1 << " denoising steps ran\n";
  CHECK(denoise_steps.load() <= 2 + 1 + 1);
}

TEST_CASE("cancel of a queued job - unknown job ids - cancel on disconnect", "[actors]") {
  auto w = start_ready(demo_config());
  const std::string running = w->submit(small_job(30, 1, 128));
  const std::string queued = w->submit(small_job(2));
  CHECK(w->status(queued).state == JobState::queued);
  CHECK(w->status(queued).queue_position == 1);
  w->cancel(queued);
  auto events = read_all(*w->subscribe(queued));
  CHECK(types_of(events) == "queued,cancelled");
  try {
    w->status("job-nope");
    FAIL("status of an unknown job did not throw");
  } catch (const WorkerError& err) {
    CHECK(err.code() == WorkerErrc::not_found);
  }
  CHECK_THROWS_AS(w->subscribe("job-nope"), WorkerError);
  // The running job asked to be cancelled when its reader goes away.
  w->cancel(running);
  JobSubmission j = small_job(30, 1, 128);
  j.cancel_on_disconnect = true;
  const std::string id = w->submit(j);
  auto s = w->subscribe(id);
  JobEvent e;
  REQUIRE(s->next(e, 30s));
  s->detach();
  auto after = read_all(*w->subscribe(id));
  REQUIRE(!after.empty());
  CHECK(after.back().type == JobEvent::Type::cancelled);
  CHECK(after.back().message.find("disconnected") != std::string::npos);
}

TEST_CASE("a full queue refuses with queue_full", "[actors]") {
  WorkerConfig c = demo_config();
  c.queue_capacity = 1;
  auto w = start_ready(c);
  const std::string running = w->submit(small_job(200, 1, 128));
  const std::string queued = w->submit(small_job(200, 2, 128));
  CHECK(w->status(running).state == JobState::running);
  CHECK(w->status(queued).state == JobState::queued);
  CHECK(submit_error(*w, small_job(2)) == WorkerErrc::queue_full);
  CHECK(submit_error(*w, small_job(2)) == WorkerErrc::queue_full);
  WorkerHealth h = w->health();
  CHECK(h.queued == 1);
  CHECK(h.running == 1);
  CHECK(h.status == "busy");
  w->cancel(queued);
  w->cancel(running);
  CHECK(run_job(*w, small_job(1)).back().type == JobEvent::Type::complete);
}

TEST_CASE("requests are validated: invalid values and unknown models", "[actors]") {
  WorkerConfig c = demo_config();
  c.model_aliases = {"sd-demo"};
  auto w = start_ready(c);
  JobSubmission j = small_job(5000);  // above limits.max_steps
  CHECK(submit_error(*w, j) == WorkerErrc::invalid_request);
  j = small_job(2, 1, 60);
  CHECK(submit_error(*w, j) == WorkerErrc::invalid_request);
  j = small_job(2);
  j.request.prompt.clear();
  CHECK(submit_error(*w, j) == WorkerErrc::invalid_request);
  j = small_job(2);
  j.output.format = "gif";
  CHECK(submit_error(*w, j) == WorkerErrc::invalid_request);
  j = small_job(2);
  j.model = "sdxl-turbo";
  CHECK(submit_error(*w, j) == WorkerErrc::model_not_found);
  j.model = "sd-demo";
  CHECK(run_job(*w, j).back().type == JobEvent::Type::complete);
}

TEST_CASE("the dispatcher uses every device; load progress is narrated", "[actors]") {
  WorkerConfig c = demo_config();
  c.devices = {"cpu", "cpu"};  // two device actors (each with its thread, loader and stages)
  c.queue_capacity = 1;
  auto w = start_ready(c);
  std::vector<std::string> lines;
  std::vector<LifecycleEvent> job_events;
  std::mutex m;
  w->on_lifecycle([&](const LifecycleEvent& e) {
    std::lock_guard<std::mutex> lock(m);
    lines.push_back(e.kind == LifecycleEvent::Kind::status ? e.status : e.actor + ": " + e.human);
    if (!e.job_id.empty()) job_events.push_back(e);
  });
  {
    std::lock_guard<std::mutex> lock(m);
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    INFO(all);
    CHECK(all.find("estimated footprint") != std::string::npos);
    CHECK(all.find("model 'demo' loaded on cpu") != std::string::npos);
    CHECK(all.find("ready") != std::string::npos);
  }
  const std::string a = w->submit(small_job(300, 1, 128));
  const std::string b = w->submit(small_job(300, 2, 128));
  CHECK(w->status(a).state == JobState::running);
  CHECK(w->status(b).state == JobState::running);
  WorkerHealth h = w->health();
  CHECK(h.running == 2);
  CHECK(h.status == "busy");
  CHECK(h.device == "cpu,cpu");
  const std::string queued = w->submit(small_job(1));
  CHECK(w->status(queued).queue_position == 1);
  CHECK(submit_error(*w, small_job(1)) == WorkerErrc::queue_full);
  w->cancel(a);
  w->cancel(b);
  const auto queued_events = read_all(*w->subscribe(queued));
  CHECK(queued_events.back().type == JobEvent::Type::complete);
  // The job's narration in its own stream: job_completed (with the rbee fields) right before complete.
  REQUIRE(queued_events.size() >= 2);
  const JobEvent& done = queued_events[queued_events.size() - 2];
  CHECK(done.type == JobEvent::Type::narration);
  CHECK(done.action == "job_completed");
  CHECK(done.target == queued);
  CHECK(done.message.find("Generated 1 image") != std::string::npos);
  CHECK(run_job(*w, small_job(1)).back().type == JobEvent::Type::complete);
  // The lifecycle listener saw each job's story in order: queued, started, then its end.
  std::lock_guard<std::mutex> lock(m);
  auto actions_of = [&](const std::string& id) {
    std::vector<std::string> out;
    for (const auto& e : job_events)
      if (e.job_id == id) out.push_back(e.action);
    return out;
  };
  CHECK(actions_of(a) == std::vector<std::string>{"job_queued", "job_started", "job_cancelled"});
  CHECK(actions_of(queued) == std::vector<std::string>{"job_queued", "job_started", "job_completed"});
  for (const auto& e : job_events) {
    CHECK(e.target == e.job_id);
    CHECK(e.emitted_at_ms > 1700000000000);
    CHECK(!e.human.empty());
  }
}

TEST_CASE("graceful shutdown: running jobs get a grace period and queued ones are cancelled", "[actors]") {
  {
    auto w = start_ready(demo_config());
    const std::string running = w->submit(small_job(6, 1, 128));
    const std::string queued = w->submit(small_job(6, 2, 128));
    w->shutdown(120s);
    CHECK(w->status(running).state == JobState::completed);
    CHECK(w->status(queued).state == JobState::cancelled);
    CHECK(w->status(queued).error_code == "shutting_down");
    CHECK(w->health().status == "stopped");
    CHECK(submit_error(*w, small_job(1)) == WorkerErrc::shutting_down);
  }
  {
    auto w = start_ready(demo_config());
    const std::string running = w->submit(small_job(400, 1, 128));
    auto s = w->subscribe(running);
    JobEvent e;
    while (s->next(e, 30s) && e.type != JobEvent::Type::progress) {
    }
    w->shutdown(50ms);
    auto events = read_all(*s);
    REQUIRE(!events.empty());
    CHECK(events.back().type == JobEvent::Type::cancelled);
    CHECK(events.back().error_code == "shutting_down");
    CHECK_FALSE(w->health().ready);
  }
}
