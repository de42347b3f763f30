// Job deadlines in simulated time: the job registry, its device and stages run on CAF's
// deterministic test coordinator (every actor on the test's thread, WorkerConfig::own_threads
// false), and time moves only when the test advances the actor clock. A job is still running one
// millisecond before its deadline and failed with `timeout` one millisecond after it; a queued job
// times out too; the worker keeps serving.
#include <catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/local_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include <memory>
#include <optional>
#include <string>

#include "actors/errors.h"
#include "actors/job_registry.h"
#include "actors/messages.h"
#include "actors/registry_state.h"

using namespace sdw;
using namespace sdw::actors;
using namespace std::chrono_literals;

namespace {

struct test_config : caf::actor_system_config {
  test_config() {
    register_message_types(*this);
    set("scheduler.policy", caf::atom("testing"));
  }
};

// A worker whose actors all run on the test coordinator.
class simulated_worker {
 public:
  explicit simulated_worker(std::chrono::milliseconds job_deadline)
      : sched_(dynamic_cast<caf::scheduler::test_coordinator&>(sys_.scheduler())), self_(sys_) {
    WorkerConfig wc;
    wc.model = "demo";
    wc.own_threads = false;
    wc.job_deadline = job_deadline;
    registry_ = sys_.spawn(job_registry, wc, std::make_shared<status_listeners>());
    sched_.run();  // the device loads the demo model
  }
  ~simulated_worker() {
    caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
    sched_.run();
  }

  // Runs every actor but the denoiser until none has a message: a job gets as far as its
  // denoising and waits there.
  void run_until_denoising() {
    sched_.run_jobs_filtered([](caf::resumable* job) {
      auto* actor = dynamic_cast<caf::local_actor*>(job);
      return !(actor && std::string(actor->name()) == "sdw.denoiser");
    });
  }
  void run_everything() { sched_.run(); }
  // Moves the actor clock on, firing the delayed messages now due (the registry's deadline sweep).
  void advance(std::chrono::milliseconds d) { sched_.advance_time(d); }

  // One request to the registry, answered while only non-denoiser actors run.
  template <class T, class... Ts>
  T ask(Ts... xs) {
    auto handle = self_->request(registry_, caf::infinite, xs...);
    run_until_denoising();
    T out{};
    handle.receive([&](T& value) { out = std::move(value); },
                   [&](caf::error& err) { FAIL("registry answered " << error_message(err)); });
    return out;
  }
  JobStatus status(const std::string& id) { return ask<JobStatus>(status_atom::value, id); }
  std::vector<JobEvent> events(const std::string& id) {
    return ask<event_batch>(events_atom::value, id, uint64_t{0}, int64_t{0}).events;
  }

 private:
  test_config cfg_;
  caf::actor_system sys_{cfg_};
  caf::scheduler::test_coordinator& sched_;
  caf::scoped_actor self_;
  registry_actor registry_;
};

JobSubmission small_job(std::optional<std::chrono::milliseconds> deadline = std::nullopt) {
  JobSubmission j;
  j.request.prompt = "a red apple on a table";
  j.request.width = j.request.height = 64;
  j.request.steps = 3;
  j.request.seed = 42;
  j.deadline = deadline;
  return j;
}

}  // namespace

TEST_CASE("a job past its own deadline fails with timeout, in simulated time", "[actors]") {
  simulated_worker w(10min);
  REQUIRE(w.ask<WorkerHealth>(health_atom::value).ready);
  const std::string id = w.ask<std::string>(submit_atom::value, small_job(150ms));
  REQUIRE(w.status(id).state == JobState::running);
  w.advance(149ms);
  w.run_until_denoising();
  CHECK(w.status(id).state == JobState::running);  // not a millisecond early
  w.advance(2ms);
  w.run_until_denoising();
  const JobStatus s = w.status(id);
  CHECK(s.state == JobState::failed);
  CHECK(s.error_code == "timeout");
  const auto events = w.events(id);
  REQUIRE(!events.empty());
  CHECK(events.back().type == JobEvent::Type::error);
  CHECK(events.back().error_code == "timeout");
  CHECK(events.back().message.find("timeout") == 0);
  CHECK(events.back().message.find("deadline of 150 ms") != std::string::npos);
  w.run_everything();  // the device stops the job it was told to cancel
  CHECK(w.status(id).state == JobState::failed);
}

TEST_CASE("the worker's default deadline applies to running and queued jobs, and it keeps serving", "[actors]") {
  simulated_worker w(100ms);
  const std::string a = w.ask<std::string>(submit_atom::value, small_job());
  const std::string b = w.ask<std::string>(submit_atom::value, small_job());
  CHECK(w.status(a).state == JobState::running);
  CHECK(w.status(b).state == JobState::queued);
  w.advance(101ms);
  w.run_until_denoising();
  CHECK(w.status(a).error_code == "timeout");
  CHECK(w.status(b).error_code == "timeout");
  CHECK(w.events(b).back().error_code == "timeout");
  w.run_everything();
  // ... and it keeps serving: a job with a deadline of its own runs to completion.
  const std::string c = w.ask<std::string>(submit_atom::value, small_job(60s));
  w.run_everything();
  CHECK(w.status(c).state == JobState::completed);
  CHECK(w.events(c).back().type == JobEvent::Type::complete);
  CHECK(w.ask<WorkerHealth>(health_atom::value).jobs_failed == 2);
}
