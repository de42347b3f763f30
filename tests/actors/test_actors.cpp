// The actor layer through the Worker facade (actors/worker.h) over a real actor system: a job's
// event sequence on the demo model and on tiny-sd15, cancellation between steps, deadlines, the
// bounded queue, late subscribers, failing and crashing stages, graceful shutdown, bounded memory
// over 500 jobs, and same-seed parity with the plain generate() pipeline; the writer (image files
// encoded off the device): overlap with the next job, failures, crashes, cancel and shutdown.
// No sleeps: every wait is on an event stream, a reply or a future, with a timeout.
#include <catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <mutex>
#include <regex>
#include <thread>

#include "actors/worker.h"
#include "model/image/image_io.h"
#include "model/pipeline/demo_model.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/sd_model.h"
#include "test_util.h"

using namespace sdw;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

WorkerConfig demo_config() {
  WorkerConfig c;
  c.model = "demo";
  c.request_timeout = 30s;
  c.limits.max_steps = 1000;  // long jobs to cancel, time out and shut down
  return c;
}

std::unique_ptr<Worker> start_ready(const WorkerConfig& c) {
  auto w = Worker::start(c);
  REQUIRE(w->wait_ready(120s));
  return w;
}

JobSubmission small_job(int steps, uint64_t seed = 42, int side = 64) {
  JobSubmission j;
  j.request.prompt = "a red apple on a table";
  j.request.width = j.request.height = side;
  j.request.steps = steps;
  j.request.seed = seed;
  return j;
}

// Reads a stream until its terminal event (or `limit`).
std::vector<JobEvent> read_all(EventStream& s, std::chrono::seconds limit = 120s) {
  std::vector<JobEvent> out;
  const auto end = std::chrono::steady_clock::now() + limit;
  JobEvent e;
  while (!s.finished() && std::chrono::steady_clock::now() < end)
    if (s.next(e, 1s)) out.push_back(e);
  return out;
}

std::vector<JobEvent> run_job(Worker& w, const JobSubmission& j) { return read_all(*w.subscribe(w.submit(j))); }

std::string types_of(const std::vector<JobEvent>& events) {
  std::string s;
  for (const auto& e : events) {
    s += s.empty() ? "" : ",";
    s += to_string(e.type);
    if (e.type == JobEvent::Type::progress || e.type == JobEvent::Type::preview) s += std::to_string(e.step);
  }
  return s;
}

// A completed job's events: the job_completed narration comes right before complete.
std::string expected_types(int steps) {
  std::string s = "queued,started";
  for (int i = 1; i <= steps; ++i) s += ",progress" + std::to_string(i);
  return s + ",narration,complete";
}

int64_t rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

WorkerErrc submit_error(Worker& w, const JobSubmission& j) {
  try {
    w.submit(j);
  } catch (const WorkerError& e) {
    return e.code();
  }
  FAIL("submit did not throw");
  return WorkerErrc::internal;
}

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

void check_complete(const JobEvent& e, int side) {
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

}  // namespace

TEST_CASE("a job's events on the demo model: queued - started - one progress per step - complete", "[actors]") {
  auto w = start_ready(demo_config());
  CHECK(w->health().ready);
  CHECK(w->health().status == "ready");
  const auto t0 = std::chrono::steady_clock::now();
  const std::string id = w->submit(small_job(4));
  CHECK(std::regex_match(id, std::regex("job-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
  auto events = read_all(*w->subscribe(id));
  std::cout << "demo 64x64, 4 steps through the actors: "
            << std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() << " ms\n";
  CHECK(types_of(events) == expected_types(4));
  for (const auto& e : events) {
    CHECK(e.job_id == id);
    if (e.type == JobEvent::Type::progress) CHECK(e.total == 4);
  }
  check_complete(events.back(), 64);
  CHECK(events.back().seed == 42);
  CHECK(events.back().scheduler == "EulerAncestralDiscreteScheduler");
  CHECK(events.back().denoise_ms > 0);
  // The A1111 parameters chunk.
  auto chunks = png_text_chunks(events.back().images[0].bytes);
  REQUIRE(chunks.size() == 1);
  CHECK(chunks[0].first == "parameters");
  CHECK(chunks[0].second.find("Steps: 4, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 64x64, Model: demo") !=
        std::string::npos);
  JobStatus s = w->status(id);
  CHECK(s.state == JobState::completed);
  REQUIRE(s.result);
  CHECK(s.result->images.size() == 1);
  CHECK(w->health().jobs_completed == 1);
}

TEST_CASE("a job's events on tiny-sd15", "[actors]") {
  WorkerConfig c = demo_config();
  c.model = test::fixture("pipelines/tiny-sd15");
  auto w = start_ready(c);
  // tiny-sd15's VAE downsamples by 2: 32x32 images are 16x16 latents.
  auto events = run_job(*w, small_job(5, 7, 32));
  // tiny-sd15 uses PNDM, whose 5 steps are 6 UNet evaluations (diffusers' skip_prk_steps repeats one
  // timestep): one progress event per evaluation, with that total.
  REQUIRE(events.size() > 3);
  CHECK(events[2].total == 6);
  CHECK(types_of(events) == expected_types(6));
  check_complete(events.back(), 32);
  auto chunks = png_text_chunks(events.back().images[0].bytes);
  REQUIRE(chunks.size() == 1);
  CHECK(chunks[0].second.find("Model: tiny-sd15") != std::string::npos);
}

TEST_CASE("a single-file checkpoint is served too", "[actors]") {
  WorkerConfig c = demo_config();
  c.model = test::fixture("single_file/tiny-sd15.safetensors");
  c.model_config_dir = test::fixture("pipelines/tiny-sd15");  // its (tiny) configs
  auto w = start_ready(c);
  auto events = run_job(*w, small_job(2, 7, 32));
  check_complete(events.back(), 32);
  CHECK(png_text_chunks(events.back().images[0].bytes).at(0).second.find("Model: tiny-sd15.safetensors") !=
        std::string::npos);
}

TEST_CASE("previews every N steps and JPEG output", "[actors]") {
  auto w = start_ready(demo_config());
  JobSubmission j = small_job(4);
  j.preview_every = 2;
  auto events = run_job(*w, j);
  CHECK(types_of(events) == "queued,started,progress1,progress2,preview2,progress3,progress4,narration,complete");
  for (const auto& e : events) {
    if (e.type != JobEvent::Type::preview) continue;
    REQUIRE(e.images.size() == 1);
    Image p = decode_image(e.images[0].bytes);
    CHECK(p.width == 8);  // latent resolution: the cheap latent -> RGB projection
    CHECK(p.height == 8);
  }
  JobSubmission jpeg = small_job(2);
  jpeg.output.format = "jpeg";
  jpeg.request.num_images = 2;
  events = run_job(*w, jpeg);
  REQUIRE(events.back().type == JobEvent::Type::complete);
  REQUIRE(events.back().images.size() == 2);
  for (const auto& img : events.back().images) {
    CHECK(img.format == "jpeg");
    CHECK(decode_image(img.bytes).width == 64);
  }
}

TEST_CASE("full VAE previews when configured", "[actors]") {
  WorkerConfig c = demo_config();
  c.full_vae_previews = true;
  c.default_preview_every = 1;
  auto w = start_ready(c);
  auto events = run_job(*w, small_job(2));
  CHECK(types_of(events) == "queued,started,progress1,preview1,progress2,narration,complete");
  REQUIRE(events.size() == 7);
  CHECK(decode_image(events[3].images.at(0).bytes).width == 64);
}

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

// Deadlines (running and queued jobs, the default and a job's own): test_job_deadlines.cpp, in
// simulated time on CAF's test coordinator.

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

TEST_CASE("two subscribers (one joining late) both see every event", "[actors]") {
  auto w = start_ready(demo_config());
  const std::string id = w->submit(small_job(6, 9, 128));
  auto early = w->subscribe(id);
  std::vector<JobEvent> a;
  JobEvent e;
  while (!early->finished()) {
    REQUIRE(early->next(e, 30s));
    a.push_back(e);
    if (e.type == JobEvent::Type::progress && e.step == 3) break;
  }
  auto late = w->subscribe(id);
  auto rest = read_all(*early);
  a.insert(a.end(), rest.begin(), rest.end());
  auto b = read_all(*late);
  CHECK(types_of(a) == expected_types(6));
  CHECK(types_of(b) == expected_types(6));
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].emitted_at_ms == b[i].emitted_at_ms);
  CHECK(a.back().images.at(0).bytes == b.back().images.at(0).bytes);
  // After the end, a third one still gets the whole history.
  CHECK(types_of(read_all(*w->subscribe(id))) == expected_types(6));
}

TEST_CASE("a stage that fails or crashes fails only its job", "[actors]") {
  std::atomic<bool> fail_decoder{false}, crash_denoiser{false}, oom_encoder{false};
  NarrationLog log;
  WorkerConfig c = demo_config();
  c.fault_injection = [&](const std::string& stage) {
    if (stage == "decoder" && fail_decoder.exchange(false)) throw std::runtime_error("injected decoder failure");
    if (stage == "encoder" && oom_encoder.exchange(false)) throw std::bad_alloc();
    if (stage == "denoiser/actor" && crash_denoiser.exchange(false)) throw std::runtime_error("injected crash");
  };
  auto w = start_ready(c);
  log.attach(*w);

  fail_decoder = true;
  auto events = run_job(*w, small_job(2));
  REQUIRE(events.back().type == JobEvent::Type::error);
  CHECK(events.back().error_code == "internal");
  CHECK(events.back().message.find("decoder") != std::string::npos);
  CHECK(events.back().message.find("injected decoder failure") != std::string::npos);
  CHECK(run_job(*w, small_job(2)).back().type == JobEvent::Type::complete);

  oom_encoder = true;
  events = run_job(*w, small_job(2));
  REQUIRE(events.back().type == JobEvent::Type::error);
  CHECK(events.back().error_code == "out_of_memory");
  CHECK(run_job(*w, small_job(2)).back().type == JobEvent::Type::complete);

  // The denoiser actor itself dies mid-job: its supervisor (the device) restarts it.
  crash_denoiser = true;
  events = run_job(*w, small_job(3));
  REQUIRE(events.back().type == JobEvent::Type::error);
  CHECK(events.back().error_code == "internal");
  CHECK(events.back().message.find("denoiser stage crashed") != std::string::npos);
  CHECK(log.contains("denoiser stage went down"));
  auto good = run_job(*w, small_job(3));
  CHECK(types_of(good) == expected_types(3));
  WorkerHealth h = w->health();
  CHECK(h.jobs_failed == 3);
  CHECK(h.jobs_completed == 3);
  CHECK(h.ready);
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

TEST_CASE("the loader refuses a model that does not fit and a model that does not exist", "[actors]") {
  WorkerConfig c = demo_config();
  c.memory_budget_bytes = 1 << 20;
  auto w = Worker::start(c);
  CHECK_FALSE(w->wait_ready(120s));
  WorkerHealth h = w->health();
  CHECK_FALSE(h.ready);
  CHECK(h.status == "failed");
  INFO(h.reason);
  CHECK(h.reason.find("needs about") != std::string::npos);
  CHECK(h.reason.find("weights") != std::string::npos);
  CHECK(submit_error(*w, small_job(1)) == WorkerErrc::not_ready);

  c.memory_budget_bytes = 0;
  c.model = "/nonexistent/sd-model";
  auto w2 = Worker::start(c);
  CHECK_FALSE(w2->wait_ready(120s));
  INFO(w2->health().reason);
  CHECK(w2->health().reason.find("not found") != std::string::npos);
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

TEST_CASE("a device this build does not have is refused", "[actors]") {
  WorkerConfig c = demo_config();
  c.devices = {"cuda:7"};
  auto w = Worker::start(c);
  CHECK_FALSE(w->wait_ready(60s));
  INFO(w->health().reason);
  CHECK(w->health().status == "failed");
  CHECK(w->health().reason.find("cuda:7") != std::string::npos);
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

TEST_CASE("same seed through the actors gives the bytes of generate()", "[actors]") {
  // tiny-sdxl: its pooled embeddings and time ids travel from the encoder to the denoiser too.
  for (const std::string model :
       {std::string("demo"), test::fixture("pipelines/tiny-sd15"), test::fixture("pipelines/tiny-sdxl")}) {
    INFO(model);
    WorkerConfig c = demo_config();
    c.model = model;
    auto w = start_ready(c);
    JobSubmission j = small_job(4, 1234, model == "demo" ? 64 : 32);
    j.request.num_images = 2;
    j.request.negative_prompt = "blurry";
    auto events = run_job(*w, j);
    REQUIRE(events.back().type == JobEvent::Type::complete);
    auto m = model == "demo" ? make_demo_model({}) : load_diffusers_model(model, {});
    GenerationResult ref = generate(*m, j.request);
    REQUIRE(events.back().images.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
      Image img = decode_image(events.back().images[i].bytes);
      CHECK(img.width == ref.images[i].width);
      CHECK(img.pixels == ref.images[i].pixels);
    }
    const std::string label = model == "demo" ? "demo" : fs::path(model).filename().string();
    CHECK(png_text_chunks(events.back().images[0].bytes).at(0).second == ref.parameters_text(label, j.request));
  }
}

TEST_CASE("500 jobs in a row: memory stays bounded and finished jobs are dropped", "[actors]") {
  WorkerConfig c = demo_config();
  c.max_finished_jobs = 50;
  auto w = start_ready(c);
  std::vector<std::string> ids;
  int64_t rss_100 = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto t100 = t0;
  for (int i = 0; i < 500; ++i) {
    JobSubmission j = small_job(1 + i % 2, static_cast<uint64_t>(i));
    const std::string id = w->submit(j);
    ids.push_back(id);
    auto events = read_all(*w->subscribe(id));
    REQUIRE(!events.empty());
    REQUIRE(events.back().type == JobEvent::Type::complete);
    if (i + 1 == 100) {
      rss_100 = rss_kib();
      t100 = std::chrono::steady_clock::now();
    }
  }
  const int64_t rss_500 = rss_kib();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t100).count();
  std::cout << "500 jobs (demo, 64x64, 1-2 steps): VmRSS after 100 jobs " << rss_100 << " KiB, after 500 jobs "
            << rss_500 << " KiB, growth " << (rss_500 - rss_100) << " KiB; jobs 101-500 took " << ms << " ms ("
            << ms / 400 << " ms/job)\n";
  CHECK(rss_500 - rss_100 < 16 * 1024);  // bound: 16 MiB for 400 more jobs
  WorkerHealth h = w->health();
  CHECK(h.jobs_completed == 500);
  // Only the last max_finished_jobs are kept.
  CHECK_THROWS_AS(w->status(ids.front()), WorkerError);
  CHECK_THROWS_AS(w->status(ids[449]), WorkerError);
  CHECK(w->status(ids[450]).state == JobState::completed);
  CHECK(w->status(ids.back()).state == JobState::completed);
}


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
