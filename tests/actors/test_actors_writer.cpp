// The writer (image files encoded off the device) through the Worker facade (actors/worker.h): a
// job's files are written while the device runs the next job, a writer that fails or crashes fails
// only its job, a job cancelled or timed out while its files are written ends so, and shutdown
// with a grace period waits for it. Fault hooks hold the writer at a gate the test opens; no
// sleeps: every wait is on an event stream, a reply or a future, with a timeout.
#include <catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "actors/actor_jobs.h"
#include "actors/worker.h"

using namespace sdw;
using namespace sdw::test::actor_jobs;
using namespace std::chrono_literals;

namespace {

// Holds a fault hook: while armed, the first call of pass() (on the actor's thread) reports that
// it was entered and waits until the test opens the gate, at most 60 s (then timed_out is set).
class gate {
 public:
  explicit gate(bool armed = true) : armed_(armed) {}
  ~gate() { open(); }
  void arm() { armed_ = true; }
  // The hook's side; true when this call waited.
  bool pass() {
    if (!armed_.exchange(false)) return false;
    entered_.set_value();
    if (opened_.wait_for(60s) != std::future_status::ready) timed_out_ = true;
    return true;
  }
  // The test's side.
  bool wait_entered(std::chrono::seconds limit = 60s) { return entered_f_.wait_for(limit) == std::future_status::ready; }
  void open() { std::call_once(open_once_, [this] { open_.set_value(); }); }
  bool timed_out() const { return timed_out_; }

 private:
  std::atomic<bool> armed_, timed_out_{false};
  std::promise<void> entered_, open_;
  std::future<void> entered_f_ = entered_.get_future();
  std::shared_future<void> opened_ = open_.get_future().share();
  std::once_flag open_once_;
};

// Opens a gate when it goes out of scope: declared after the Worker, it lets a hook that still
// waits go before the Worker's destructor waits for the actors (a failed REQUIRE).
struct gate_opener {
  gate& g;
  ~gate_opener() { g.open(); }
};

bool has_type(const std::vector<JobEvent>& events, JobEvent::Type type) {
  for (const auto& e : events)
    if (e.type == type) return true;
  return false;
}

}  // namespace

TEST_CASE("a job's image files are written while the device runs the next job", "[actors]") {
  // A's PNG encoding (fault point "writer") waits until the test has seen B's `started` event. With
  // the files written by the device before it answers the run (the old design), B could not start
  // before A's encoding ended: the hook would wait its 60 s out and timed_out() would be set.
  gate g;
  std::atomic<int> writer_calls{0};
  WorkerConfig c = demo_config();
  c.fault_injection = [&](const std::string& stage) {
    if (stage != "writer") return;
    ++writer_calls;
    g.pass();
  };
  auto w = start_ready(c);
  gate_opener opener{g};
  const JobSubmission ja = small_job(2, 11), jb = small_job(3, 12);
  const std::string a = w->submit(ja);
  const std::string b = w->submit(jb);
  auto sa = w->subscribe(a);
  auto sb = w->subscribe(b);
  std::vector<JobEvent> eb;
  JobEvent e;
  const auto limit = std::chrono::steady_clock::now() + 120s;
  while (!sb->finished() && std::chrono::steady_clock::now() < limit) {
    if (!sb->next(e, 1s)) continue;
    eb.push_back(e);
    if (e.type == JobEvent::Type::started) break;
  }
  REQUIRE(!eb.empty());
  REQUIRE(eb.back().type == JobEvent::Type::started);
  // B has the device while A's files are being written (A's writer holds until we open the gate;
  // it may enter the hook just after B started): A is still running.
  CHECK(g.wait_entered());
  CHECK(w->status(a).state == JobState::running);
  CHECK(w->health().running == 2);
  g.open();
  auto ea = read_all(*sa);
  auto rest = read_all(*sb);
  eb.insert(eb.end(), rest.begin(), rest.end());
  CHECK_FALSE(g.timed_out());
  CHECK(writer_calls.load() == 2);
  CHECK(types_of(ea) == expected_types(2));
  CHECK(types_of(eb) == expected_types(3));
  REQUIRE(ea.back().type == JobEvent::Type::complete);
  REQUIRE(eb.back().type == JobEvent::Type::complete);
  check_complete(ea.back(), 64);
  check_complete(eb.back(), 64);
  CHECK(ea.back().image_encode_ms > 0);
  CHECK(ea.back().decode_ms > 0);
  // The same requests one at a time, nothing held: the same bytes.
  auto ra = run_job(*w, ja);
  auto rb = run_job(*w, jb);
  REQUIRE(ra.back().type == JobEvent::Type::complete);
  REQUIRE(rb.back().type == JobEvent::Type::complete);
  CHECK(ra.back().images.at(0).bytes == ea.back().images.at(0).bytes);
  CHECK(rb.back().images.at(0).bytes == eb.back().images.at(0).bytes);
  CHECK(ea.back().images.at(0).bytes != eb.back().images.at(0).bytes);
  // The job_completed narration names the image encoding time.
  const JobEvent& done = ea[ea.size() - 2];
  CHECK(done.action == "job_completed");
  CHECK(done.message.find("image encode") != std::string::npos);
  CHECK(w->health().jobs_completed == 4);
}

TEST_CASE("a writer that fails or crashes fails only its job", "[actors]") {
  std::atomic<bool> fail_writer{false}, crash_writer{false};
  NarrationLog log;
  WorkerConfig c = demo_config();
  c.fault_injection = [&](const std::string& stage) {
    if (stage == "writer" && fail_writer.exchange(false)) throw std::runtime_error("injected writer failure");
    if (stage == "writer/actor" && crash_writer.exchange(false)) throw std::runtime_error("injected writer crash");
  };
  auto w = start_ready(c);
  log.attach(*w);

  fail_writer = true;
  auto events = run_job(*w, small_job(2));
  REQUIRE(events.back().type == JobEvent::Type::error);
  CHECK_FALSE(has_type(events, JobEvent::Type::complete));
  CHECK(events.back().error_code == "internal");
  INFO(events.back().message);
  CHECK(events.back().message.find("writer of cpu") != std::string::npos);
  CHECK(events.back().message.find("injected writer failure") != std::string::npos);
  CHECK(run_job(*w, small_job(2)).back().type == JobEvent::Type::complete);

  // The writer actor itself dies: the registry notices (monitor), fails its job, spawns a new one.
  crash_writer = true;
  events = run_job(*w, small_job(2));
  REQUIRE(events.back().type == JobEvent::Type::error);
  CHECK_FALSE(has_type(events, JobEvent::Type::complete));
  CHECK(events.back().error_code == "internal");
  INFO(events.back().message);
  CHECK(events.back().message.find("writer of cpu") != std::string::npos);
  CHECK(log.contains("writer of cpu went down"));
  auto good = run_job(*w, small_job(3));
  CHECK(types_of(good) == expected_types(3));
  check_complete(good.back(), 64);
  CHECK(run_job(*w, small_job(1)).back().type == JobEvent::Type::complete);
  WorkerHealth h = w->health();
  CHECK(h.jobs_failed == 2);
  CHECK(h.jobs_completed == 3);
  CHECK(h.ready);
  CHECK(h.running == 0);
}

TEST_CASE("a job cancelled or timed out while its files are written ends so; the writer's answer is ignored",
          "[actors]") {
  gate on_cancel(false), on_deadline(false);
  WorkerConfig c = demo_config();
  c.fault_injection = [&](const std::string& stage) {
    if (stage == "writer" && !on_cancel.pass()) on_deadline.pass();
  };
  auto w = start_ready(c);
  gate_opener open_cancel{on_cancel}, open_deadline{on_deadline};

  on_cancel.arm();
  const std::string id = w->submit(small_job(2));
  auto s = w->subscribe(id);
  REQUIRE(on_cancel.wait_entered());
  CHECK(w->status(id).state == JobState::running);
  w->cancel(id);
  auto events = read_all(*s);
  REQUIRE(!events.empty());
  CHECK(events.back().type == JobEvent::Type::cancelled);
  CHECK(events.back().error_code == "cancelled");
  CHECK_FALSE(has_type(events, JobEvent::Type::complete));
  on_cancel.open();
  // The writer answers the cancelled job before the next one's (one writer, in order): ignored.
  CHECK(run_job(*w, small_job(1)).back().type == JobEvent::Type::complete);
  CHECK(w->status(id).state == JobState::cancelled);
  CHECK_FALSE(has_type(read_all(*w->subscribe(id)), JobEvent::Type::complete));

  // A deadline passing while the files are written: failed with timeout.
  on_deadline.arm();
  JobSubmission j = small_job(2, 5);
  j.deadline = 3s;
  const std::string late = w->submit(j);
  auto sl = w->subscribe(late);
  REQUIRE(on_deadline.wait_entered());
  events = read_all(*sl);
  REQUIRE(!events.empty());
  CHECK(events.back().type == JobEvent::Type::error);
  CHECK(events.back().error_code == "timeout");
  CHECK_FALSE(has_type(events, JobEvent::Type::complete));
  on_deadline.open();
  CHECK(run_job(*w, small_job(1)).back().type == JobEvent::Type::complete);
  CHECK(w->status(late).state == JobState::failed);
  CHECK_FALSE(on_cancel.timed_out());
  CHECK_FALSE(on_deadline.timed_out());
  WorkerHealth h = w->health();
  CHECK(h.jobs_cancelled == 1);
  CHECK(h.jobs_failed == 1);
  CHECK(h.jobs_completed == 2);
  CHECK(h.running == 0);
}

TEST_CASE("shutdown with a grace period waits for a job whose files are being written", "[actors]") {
  gate g;
  WorkerConfig c = demo_config();
  c.fault_injection = [&](const std::string& stage) {
    if (stage == "writer") g.pass();
  };
  std::promise<void> stopping;
  std::atomic<bool> stopping_seen{false};
  auto w = start_ready(c);
  gate_opener opener{g};
  w->on_lifecycle([&](const LifecycleEvent& e) {
    if (e.kind == LifecycleEvent::Kind::status && e.status == "stopping" && !stopping_seen.exchange(true))
      stopping.set_value();
  });
  const std::string id = w->submit(small_job(2));
  REQUIRE(g.wait_entered());
  std::atomic<bool> returned{false};
  std::thread t([&] {
    w->shutdown(60s);
    returned = true;
  });
  const bool began = stopping.get_future().wait_for(60s) == std::future_status::ready;
  // The device is done with the job; its writer is not: the job runs and the shutdown waits.
  CHECK(began);
  CHECK(w->status(id).state == JobState::running);
  CHECK_FALSE(returned.load());
  g.open();
  const auto t0 = std::chrono::steady_clock::now();
  t.join();
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(waited < 30);  // it returned when the job completed, not at the end of the grace period
  JobStatus s = w->status(id);
  CHECK(s.state == JobState::completed);
  REQUIRE(s.result);
  check_complete(*s.result, 64);
  CHECK(w->health().status == "stopped");
  CHECK(w->health().running == 0);
}
