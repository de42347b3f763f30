// The Worker facade over the actor system (see worker.h): owns the actor system and the job
// registry, and turns each call into a request with a timeout (errors become WorkerError).
#include "actors/worker.h"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <atomic>
#include <deque>
#include <mutex>

#include "actors/errors.h"
#include "actors/job_registry.h"
#include "actors/node_tls_config.h"
#include "actors/registry_state.h"
#include "actors/request_timeouts.h"

namespace sdw {

namespace actors {
namespace {

using std::chrono::milliseconds;

class system_config : public caf::actor_system_config {
 public:
  explicit system_config(const RemoteStagesConfig& remote) {
    register_message_types(*this);
    // stages on other nodes (serve --stage): the middleman, and CAF's OpenSSL module unless plaintext
    if (remote.any()) actors::load_node_transport(*this, remote.insecure_plaintext, remote.tls);
    // A shared queue with a condition variable: idle scheduler threads sleep instead of polling
    // (work stealing's polling costs CPU that libtorch needs; our actors exchange few messages).
    set("scheduler.policy", caf::atom("sharing"));
  }
};

WorkerConfig with_status(WorkerConfig c) {
  if (!c.remote_status) c.remote_status = std::make_shared<RemoteStatus>();
  if (!c.batch_stats) c.batch_stats = std::make_shared<BatchStats>();
  return c;
}

// What the facade and its event streams share; the actor system lives as long as any of them.
struct worker_core {
  WorkerConfig config;
  system_config caf_config{config.remote};
  caf::actor_system system{caf_config};
  std::shared_ptr<status_listeners> listeners = std::make_shared<status_listeners>();
  registry_actor registry;
  std::atomic<bool> stopped{false};

  explicit worker_core(const WorkerConfig& c) : config(with_status(c)) { registry = system.spawn(job_registry, config, listeners); }
  // Ends the registry, which ends the devices, which end their stages and threads; the actor
  // system then waits for them (a device thread finishes the task it is running).
  ~worker_core() { caf::anon_send_exit(registry, caf::exit_reason::user_shutdown); }

  // One request to the registry, waiting at most `timeout`; the reply's error is thrown as WorkerError.
  template <class T, class... Ts>
  T ask(milliseconds timeout, Ts&&... xs) {
    if (stopped) throw WorkerError(WorkerErrc::shutting_down, "the worker has shut down");
    caf::scoped_actor self{system};
    T out{};
    caf::error err;
    auto handle = self->request(registry, timeout, std::forward<Ts>(xs)...);
    const caf::message_id id = handle.id();
    handle.receive([&](T& value) { out = std::move(value); }, [&](caf::error& e) { err = std::move(e); });
    forget_timeout(self.ptr(), id);
    if (err) throw to_worker_error(err);
    return out;
  }
};

class actor_event_stream : public EventStream {
 public:
  actor_event_stream(std::shared_ptr<worker_core> core, std::string id) : core_(std::move(core)), id_(std::move(id)) {}
  ~actor_event_stream() override { detach(); }

  bool next(JobEvent& out, std::chrono::milliseconds timeout) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (buffer_.empty() && !ended_) fetch(timeout);
    if (buffer_.empty()) return false;
    out = std::move(buffer_.front());
    buffer_.pop_front();
    if (buffer_.empty() && ended_) done_ = true;
    return true;
  }

  bool finished() const override { return done_; }

  void detach() override {
    if (detached_.exchange(true) || core_->stopped) return;
    caf::anon_send(core_->registry, detach_atom::value, id_);
  }

 private:
  void fetch(milliseconds timeout) {
    try {
      event_batch b = core_->ask<event_batch>(timeout + core_->config.request_timeout, events_atom::value, id_, next_,
                                              static_cast<int64_t>(timeout.count()));
      next_ += b.events.size();
      for (auto& e : b.events) buffer_.push_back(std::move(e));
      if (b.finished) ended_ = true;
    } catch (const WorkerError& e) {
      if (e.code() != WorkerErrc::timeout) ended_ = true;  // the job was dropped or the worker stopped
    }
    if (buffer_.empty() && ended_) done_ = true;
  }

  std::shared_ptr<worker_core> core_;
  std::string id_;
  std::mutex mutex_;
  std::deque<JobEvent> buffer_;
  uint64_t next_ = 0;
  bool ended_ = false;  // the terminal event (or the end of the job) has been fetched
  std::atomic<bool> done_{false};
  std::atomic<bool> detached_{false};
};

class actor_worker : public Worker {
 public:
  explicit actor_worker(const WorkerConfig& config) : core_(std::make_shared<worker_core>(config)) {}
  ~actor_worker() override {
    try {
      shutdown(milliseconds(0));
    } catch (const std::exception&) {
    }
    core_->stopped = true;
  }

  std::string submit(JobSubmission job) override {
    return core_->ask<std::string>(timeout(), submit_atom::value, std::move(job));
  }

  std::shared_ptr<EventStream> subscribe(const std::string& job_id) override {
    core_->ask<ok_atom>(timeout(), subscribe_atom::value, job_id);
    return std::make_shared<actor_event_stream>(core_, job_id);
  }

  void cancel(const std::string& job_id) override { core_->ask<ok_atom>(timeout(), cancel_atom::value, job_id); }

  JobStatus status(const std::string& job_id) override {
    return core_->ask<JobStatus>(timeout(), status_atom::value, job_id);
  }

  WorkerHealth health() override { return core_->ask<WorkerHealth>(timeout(), health_atom::value); }

  bool wait_ready(std::chrono::milliseconds wait) override {
    try {
      return core_->ask<bool>(wait + timeout(), ready_atom::value, static_cast<int64_t>(wait.count()));
    } catch (const WorkerError&) {
      return false;
    }
  }

  // Stops accepting, lets running jobs finish for up to `grace`, cancels the rest. The registry
  // keeps answering status and event reads until the Worker is destroyed.
  void shutdown(std::chrono::milliseconds grace) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shut_down_) return;
    core_->ask<ok_atom>(grace + timeout(), shutdown_atom::value, static_cast<int64_t>(grace.count()));
    shut_down_ = true;
  }

  void on_lifecycle(std::function<void(const LifecycleEvent& event)> listener) override {
    core_->listeners->add(std::move(listener));
  }

 private:
  milliseconds timeout() const { return core_->config.request_timeout; }

  std::shared_ptr<worker_core> core_;
  std::mutex mutex_;
  bool shut_down_ = false;
};

}  // namespace
}  // namespace actors

std::unique_ptr<Worker> Worker::start(const WorkerConfig& config) {
  return std::make_unique<actors::actor_worker>(config);
}

}  // namespace sdw
