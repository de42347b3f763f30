// rbee registration and heartbeats end to end: fake hive and queen HTTP servers in this process
// (cpp-httplib on free loopback ports) and the real `sd-worker serve` binary (demo model). Checks
// the exact WorkerInfo/heartbeat JSON (field set, types, RFC 3339 UTC timestamp, status values),
// the status sequence during a job (ready -> busy -> ready) and on SIGTERM (stopping, stopped), a
// queen that is down at start and comes up (heartbeats resume), and a queen answering 500 or
// hanging (the worker keeps serving jobs with normal latency, logs once per state change).
// Synchronisation is by condition variables and bounded polling, never by sleeping.
#include <catch.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <regex>
#include <thread>

#include "e2e/http_harness.h"
#include "net/rbee/heartbeat.h"

using namespace sdw;
using namespace sdw::test;
using nlohmann::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

struct Post {
  std::string path;
  json body;
  steady::time_point at;
};

// A fake rbee component: records every POST; answers 200 `{"status":"ok"}`, 500, or hangs.
class FakeRbee {
 public:
  enum class Mode { ok, fail500, hang };

  explicit FakeRbee(int port = 0) {
    server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
    if (port == 0)
      port_ = server_.bind_to_any_port("127.0.0.1");
    else
      port_ = server_.bind_to_port("127.0.0.1", port) ? port : -1;
    if (port_ <= 0) throw std::runtime_error("fake rbee: cannot bind");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeRbee() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closing_ = true;
    }
    cv_.notify_all();
    server_.stop();
    thread_.join();
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void set_mode(Mode m) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      mode_ = m;
    }
    cv_.notify_all();
  }
  std::vector<Post> posts() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return posts_;
  }
  size_t count() const { return posts().size(); }
  // Waits (condition variable, bounded) until `pred(posts)` holds.
  bool wait_for(const std::function<bool(const std::vector<Post>&)>& pred, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return pred(posts_); });
  }

 private:
  void handle(const httplib::Request& req, httplib::Response& res) {
    std::unique_lock<std::mutex> lock(mutex_);
    posts_.push_back({req.path, json::parse(req.body, nullptr, false), steady::now()});
    cv_.notify_all();
    if (mode_ == Mode::hang) cv_.wait_for(lock, 8s, [&] { return closing_ || mode_ != Mode::hang; });
    if (mode_ == Mode::fail500) {
      res.status = 500;
      res.set_content(R"({"error":"boom"})", "application/json");
      return;
    }
    res.set_content(R"({"status":"ok","message":"heartbeat received"})", "application/json");
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Post> posts_;
  Mode mode_ = Mode::ok;
  bool closing_ = false;
};

std::vector<Post> heartbeats(const std::vector<Post>& posts) {
  std::vector<Post> out;
  for (const auto& p : posts)
    if (p.path == "/v1/worker-heartbeat") out.push_back(p);
  return out;
}

std::string status_of(const Post& p) {
  const json& w = p.body.contains("worker") ? p.body["worker"] : p.body;
  return w.is_object() && w.contains("status") && w["status"].is_string() ? w["status"].get<std::string>() : "";
}

// Statuses in arrival order with repeats collapsed: ready, ready, busy, ready -> ready, busy, ready.
std::vector<std::string> status_runs(const std::vector<Post>& posts) {
  std::vector<std::string> out;
  for (const auto& p : posts) {
    const std::string s = status_of(p);
    if (out.empty() || out.back() != s) out.push_back(s);
  }
  return out;
}

bool contains_in_order(const std::vector<std::string>& seq, const std::vector<std::string>& wanted) {
  size_t k = 0;
  for (const auto& s : seq)
    if (k < wanted.size() && s == wanted[k]) ++k;
  return k == wanted.size();
}

bool any_status(const std::vector<Post>& posts, const std::string& status) {
  return std::any_of(posts.begin(), posts.end(), [&](const Post& p) { return status_of(p) == status; });
}

void check_worker_info(const json& w, const std::string& id, int port) {
  INFO(w.dump());
  REQUIRE(w.is_object());
  CHECK(w.size() == 7);
  for (const char* key : {"id", "model_id", "device", "status", "implementation", "version"}) {
    REQUIRE(w.contains(key));
    CHECK(w[key].is_string());
  }
  REQUIRE(w.contains("port"));
  CHECK(w["port"].is_number_unsigned());
  CHECK(w["id"] == id);
  CHECK(w["model_id"] == "demo");
  CHECK(w["device"] == "cpu");
  CHECK(w["port"] == port);
  CHECK(w["implementation"] == "sd-worker-cpp");
  CHECK(!w["version"].get<std::string>().empty());
  const std::string s = w["status"];
  CHECK((s == "starting" || s == "ready" || s == "busy" || s == "stopping" || s == "stopped"));
}

void check_heartbeat(const Post& p, const std::string& id, int port) {
  INFO(p.body.dump());
  CHECK(p.path == "/v1/worker-heartbeat");
  REQUIRE(p.body.is_object());
  CHECK(p.body.size() == 2);
  REQUIRE(p.body.contains("timestamp"));
  REQUIRE(p.body["timestamp"].is_string());
  const std::string ts = p.body["timestamp"];
  static const std::regex rfc3339(R"(^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$)");
  std::smatch m;
  REQUIRE(std::regex_match(ts, m, rfc3339));
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  const std::time_t t = timegm(&tm);
  CHECK(std::llabs(static_cast<long long>(t - std::time(nullptr))) < 120);  // UTC, not local time
  REQUIRE(p.body.contains("worker"));
  check_worker_info(p.body["worker"], id, port);
}

std::string submit_job(int port, int steps) {
  const HttpReply r = post_json(port, demo_job(steps, 11));
  INFO(r.raw);
  REQUIRE(r.status == 200);
  return r.body.at("job_id").get<std::string>();
}

// Submits a job and waits for it to complete; returns its wall time.
std::chrono::milliseconds run_job(int port, int steps = 4) {
  const auto t0 = steady::now();
  const std::string id = submit_job(port, steps);
  REQUIRE(wait_for_state(port, id, "completed", 400) == "completed");
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0);
}

size_t count_lines(const std::string& log, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = log.find(needle); pos != std::string::npos; pos = log.find(needle, pos + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("heartbeat helpers: RFC 3339 UTC timestamps, status mapping, capped jittered backoff", "[rbee]") {
  const std::string ts = net::rfc3339_utc_now();
  CHECK(std::regex_match(ts, std::regex(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$)")));
  CHECK(net::rbee_worker_status("busy") == "busy");
  CHECK(net::rbee_worker_status("failed") == "stopped");
  CHECK(net::rbee_worker_status("narration: loader: loaded").empty());
  using ms = std::chrono::milliseconds;
  CHECK(net::backoff_delay(1, ms(250), ms(15000), 1.0) == ms(250));
  CHECK(net::backoff_delay(3, ms(250), ms(15000), 1.0) == ms(1000));
  CHECK(net::backoff_delay(30, ms(250), ms(15000), 1.0) == ms(15000));  // capped
  CHECK(net::backoff_delay(30, ms(250), ms(15000), 0.0) == ms(7500));   // jitter down to half
  CHECK_THROWS_AS(net::HttpClient("localhost:7833"), std::invalid_argument);
  // A refused connection answers at once with status 0 and a reason, without throwing.
  const net::HttpClientResult r = net::HttpClient("http://127.0.0.1:" + std::to_string(free_port()) + "/x")
                                      .post_json("/v1/worker-heartbeat", "{}");
  CHECK(r.status == 0);
  CHECK(!r.error.empty());
}

TEST_CASE("registration, heartbeat fields and status transitions (job, shutdown)", "[rbee]") {
  FakeRbee hive, queen;
  const std::string id = "worker-sd-test";
  WorkerProcess wp({"--worker-id", id, "--queen-url", queen.url(), "--callback-url", hive.url() + "/v1/workers/ready",
                    "--heartbeat-interval", "1", "--min-side", "64", "--quiet"});
  const int port = wp.port();

  // Registration: once ready, WorkerInfo to the callback URL.
  REQUIRE(hive.wait_for([](const std::vector<Post>& p) { return !p.empty(); }, 15s));
  const Post reg = hive.posts().front();
  CHECK(reg.path == "/v1/workers/ready");
  check_worker_info(reg.body, id, port);
  CHECK(reg.body["status"] == "ready");

  // Periodic heartbeats: at least two "ready" ones about an interval apart.
  REQUIRE(queen.wait_for(
      [](const std::vector<Post>& p) {
        const auto hb = heartbeats(p);
        return std::count_if(hb.begin(), hb.end(), [](const Post& x) { return status_of(x) == "ready"; }) >= 3;
      },
      15s));
  {
    const auto hb = heartbeats(queen.posts());
    for (const auto& p : hb) check_heartbeat(p, id, port);
    std::vector<Post> ready;
    for (const auto& p : hb)
      if (status_of(p) == "ready") ready.push_back(p);
    const auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(ready[2].at - ready[1].at);
    CHECK(gap >= 700ms);  // periodic, not a busy loop
    CHECK(gap <= 2500ms);
    const auto runs = status_runs(hb);
    INFO(json(runs).dump());
    CHECK((runs.front() == "starting" || runs.front() == "ready"));
  }

  // A job: ready -> busy -> ready, sent at once on each change.
  const size_t before = heartbeats(queen.posts()).size();
  run_job(port, 8);
  REQUIRE(queen.wait_for(
      [&](const std::vector<Post>& p) {
        auto hb = heartbeats(p);
        hb.erase(hb.begin(), hb.begin() + std::min(before, hb.size()));
        return contains_in_order(status_runs(hb), {"busy", "ready"});
      },
      10s));
  {
    auto hb = heartbeats(queen.posts());
    const auto runs_all = status_runs(hb);
    INFO(json(runs_all).dump());
    CHECK(contains_in_order(runs_all, {"ready", "busy", "ready"}));
    hb.erase(hb.begin(), hb.begin() + before);
    for (const auto& p : hb) check_heartbeat(p, id, port);
  }

  // SIGTERM: stopping, then a last stopped.
  CHECK(wp.stop(std::chrono::seconds(30)) == 0);
  REQUIRE(queen.wait_for([](const std::vector<Post>& p) { return any_status(heartbeats(p), "stopped"); }, 5s));
  const auto hb = heartbeats(queen.posts());
  const auto runs = status_runs(hb);
  INFO(json(runs).dump());
  REQUIRE(runs.size() >= 2);
  CHECK(runs[runs.size() - 2] == "stopping");
  CHECK(runs.back() == "stopped");
  check_heartbeat(hb.back(), id, port);
}

TEST_CASE("queen down at start, then up: heartbeats resume", "[rbee]") {
  const int queen_port = free_port();
  WorkerProcess wp({"--worker-id", "worker-late-queen", "--queen-url", "http://127.0.0.1:" + std::to_string(queen_port),
                    "--heartbeat-interval", "1", "--min-side", "64", "--quiet"},
                   {{"HEARTBEAT_INTERVAL_SECS", "30"}});  // the flag wins over the environment
  // The worker serves although nobody answers its heartbeats.
  CHECK(run_job(wp.port()) < 10s);
  CHECK(http_get(wp.port(), "/health").status == 200);
  // Bounded poll of the log for the single "unreachable" line.
  bool logged = false;
  for (int i = 0; i < 100 && !logged; ++i) {
    logged = wp.log().find("retrying with backoff") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(50ms);
  }
  CHECK(logged);

  FakeRbee queen(queen_port);
  const auto up = steady::now();
  REQUIRE(queen.wait_for([](const std::vector<Post>& p) { return !heartbeats(p).empty(); }, 5s));
  CHECK(steady::now() - up < 3s);  // backoff capped by the 1 s interval
  const Post first = heartbeats(queen.posts()).front();
  check_heartbeat(first, "worker-late-queen", wp.port());
  CHECK(status_of(first) == "ready");
  // And keeps beating.
  REQUIRE(queen.wait_for([](const std::vector<Post>& p) { return heartbeats(p).size() >= 3; }, 6s));
  const std::string log = wp.log();
  INFO(log);
  CHECK(log.find("reachable again") != std::string::npos);
  CHECK(wp.stop(std::chrono::seconds(30)) == 0);
}

TEST_CASE("queen answering 500 or hanging: jobs keep normal latency, heartbeats catch up", "[rbee]") {
  FakeRbee queen;
  WorkerProcess wp({"--worker-id", "worker-bad-queen", "--queen-url", queen.url(), "--min-side", "64", "--quiet"},
                   {{"HEARTBEAT_INTERVAL_SECS", "1"}});  // the interval from the environment
  const int port = wp.port();
  // Two periodic "ready" heartbeats within a few seconds: the interval came from the environment.
  REQUIRE(queen.wait_for(
      [](const std::vector<Post>& p) {
        const auto hb = heartbeats(p);
        return std::count_if(hb.begin(), hb.end(), [](const Post& x) { return status_of(x) == "ready"; }) >= 2;
      },
      15s));
  const auto baseline = run_job(port);

  SECTION("500") {
    queen.set_mode(FakeRbee::Mode::fail500);
    const size_t n0 = queen.count();
    REQUIRE(queen.wait_for([&](const std::vector<Post>& p) { return p.size() >= n0 + 3; }, 10s));  // retries
    for (int i = 0; i < 3; ++i) {
      const auto t = run_job(port);
      INFO("baseline " << baseline.count() << " ms, with a failing queen " << t.count() << " ms");
      CHECK(t < baseline * 3 + 1500ms);
    }
    const std::string log = wp.log();
    INFO(log);
    CHECK(count_lines(log, "HTTP 500") == 1);  // once per state change, not per retry
  }
  SECTION("hanging") {
    queen.set_mode(FakeRbee::Mode::hang);
    const size_t n0 = queen.count();
    REQUIRE(queen.wait_for([&](const std::vector<Post>& p) { return p.size() >= n0 + 1; }, 10s));
    const auto hang_start = steady::now();
    for (int i = 0; i < 3; ++i) {
      const auto t = run_job(port);
      INFO("baseline " << baseline.count() << " ms, with a hanging queen " << t.count() << " ms");
      CHECK(t < baseline * 3 + 1500ms);
    }
    const auto t0 = steady::now();
    CHECK(http_get(port, "/health").status == 200);
    CHECK(steady::now() - t0 < 1s);
    // The queen holds each request 8 s: a second attempt proves the client's read timeout (2 s).
    REQUIRE(queen.wait_for([&](const std::vector<Post>& p) { return p.size() >= n0 + 2; }, 8s));
    CHECK(steady::now() - hang_start < 6s);
    bool logged = false;
    for (int i = 0; i < 100 && !logged; ++i) {
      logged = wp.log().find("retrying with backoff") != std::string::npos;
      if (!logged) std::this_thread::sleep_for(50ms);
    }
    CHECK(logged);
  }

  // The queen recovers: heartbeats arrive again and report the truth.
  queen.set_mode(FakeRbee::Mode::ok);
  const auto recovered = steady::now();
  const size_t n1 = queen.count();
  REQUIRE(queen.wait_for(
      [&](const std::vector<Post>& p) {
        for (size_t i = n1; i < p.size(); ++i)
          if (status_of(p[i]) == "ready") return true;
        return false;
      },
      8s));
  CHECK(steady::now() - recovered < 5s);
  CHECK(wp.stop(std::chrono::seconds(30)) == 0);
}

TEST_CASE("the Rust SD worker's spawn form: environment only, registration with the hive", "[rbee]") {
  // bin/31_sd_worker_rbee: `sd-worker-rbee --worker-id .. --sd-version .. --port .. --callback-url ..
  // --model-path ..`, here with every value but the port from its environment variable.
  FakeRbee hive;
  const std::string id = "worker-sd-rust-form";
  WorkerProcess wp({"--quiet"},
                   {{"WORKER_ID", id},
                    {"SD_VERSION", "v1-5"},
                    {"MODEL_PATH", "demo"},
                    {"CALLBACK_URL", hive.url() + "/v1/workers/ready"},
                    {"USE_F16", "false"},
                    {"USE_FLASH_ATTN", "false"},
                    {"QUEEN_URL", ""}},
                   /*serve_word=*/false, WorkerProcess::WaitFor::ready, worker_binary("sd-worker-rbee"));
  REQUIRE(hive.wait_for([](const std::vector<Post>& p) { return !p.empty(); }, 15s));
  const Post reg = hive.posts().front();
  CHECK(reg.path == "/v1/workers/ready");
  check_worker_info(reg.body, id, wp.port());
  CHECK(reg.body["status"] == "ready");
  const HttpReply info = http_get(wp.port(), "/info");
  REQUIRE(info.status == 200);
  CHECK(info.body["id"] == id);
  CHECK(wp.stop() == 0);
}
