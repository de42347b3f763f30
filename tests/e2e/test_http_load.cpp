// Load on loopback: 8 concurrent clients x 10 jobs each, in two rounds (160 jobs), against the
// real `sd-worker serve` with the demo model and a small queue (4), so that clients meet 429s.
// Every job is submitted (retrying after 429, the only error allowed), streamed to its [DONE]
// and accounted for exactly once; the server's RSS (from /proc/<pid>/status) is printed after
// warm-up and after each round, and the second round must not grow it by more than 32 MiB
// (0.4 MiB per job: a per-job leak would show). Figures go to stdout.
#include <catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include "e2e/http_harness.h"

using namespace sdw::test;
using nlohmann::json;

namespace {

struct RoundStats {
  int submitted = 0, completed = 0, retries_429 = 0;
  std::vector<std::string> errors;
  std::vector<std::string> job_ids;
  std::vector<double> latencies_ms;  // submit to [DONE]
  double wall_s = 0;
};

RoundStats run_round(int port, int clients, int jobs_per_client, uint64_t seed_base) {
  RoundStats stats;
  std::mutex mutex;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int j = 0; j < jobs_per_client; ++j) {
        const uint64_t seed = seed_base + static_cast<uint64_t>(c * 1000 + j);
        const auto start = std::chrono::steady_clock::now();
        HttpReply r;
        int retries = 0;
        for (int attempt = 0; attempt < 2000; ++attempt) {
          r = post_json(port, demo_job(3, seed));
          if (r.status != 429) break;
          ++retries;
          std::this_thread::sleep_for(std::chrono::milliseconds(10 + 5 * std::min(attempt, 20)));
        }
        std::unique_lock<std::mutex> lock(mutex);
        stats.retries_429 += retries;
        if (r.status != 200) {
          stats.errors.push_back("submit: " + std::to_string(r.status) + " " + r.raw.substr(0, 200));
          continue;
        }
        ++stats.submitted;
        const std::string id = r.body["job_id"];
        stats.job_ids.push_back(id);
        lock.unlock();
        const SseStream s = read_sse(port, "/v1/jobs/" + id + "/stream");
        lock.lock();
        const auto complete = s.named("complete");
        const bool ok = s.status == 200 && s.markers == std::vector<std::string>{"[DONE]"} && complete.size() == 1 &&
                        complete[0].json()["job_id"] == id && complete[0].json()["seed"] == seed;
        if (!ok) {
          stats.errors.push_back("stream of " + id + ": " + s.raw.substr(0, 300));
          continue;
        }
        ++stats.completed;
        stats.latencies_ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  stats.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return stats;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

double metric(const std::string& text, const std::string& series) {
  const auto pos = text.find("\n" + series + " ");
  return pos == std::string::npos ? -1.0 : std::stod(text.substr(pos + series.size() + 2));
}

}  // namespace

TEST_CASE("load: 8 clients x 10 jobs, twice; no lost or duplicated job, only 429s, bounded memory", "[http][load]") {
  const int clients = 8, jobs_per_round = 10, rounds = 2;
  WorkerProcess w({"--min-side", "64", "--queue-size", "4", "--quiet"});
  const int port = w.port();

  // Warm-up (first allocations of the pipeline), then the baseline RSS.
  for (int i = 0; i < 2; ++i) REQUIRE(read_sse(port, "/v1/jobs/" + post_json(port, demo_job(3, 1)).body["job_id"].get<std::string>() + "/stream").markers.size() == 1);
  const int64_t rss_warm = w.rss_bytes();
  std::printf("load: RSS after warm-up %.1f MiB\n", rss_warm / 1048576.0);

  std::set<std::string> all_ids;
  std::vector<int64_t> rss;
  int total_completed = 0;
  for (int round = 0; round < rounds; ++round) {
    const RoundStats s = run_round(port, clients, jobs_per_round, 100000ull * (round + 1));
    for (const auto& e : s.errors) UNSCOPED_INFO(e);
    CHECK(s.errors.empty());
    CHECK(s.submitted == clients * jobs_per_round);
    CHECK(s.completed == clients * jobs_per_round);
    for (const auto& id : s.job_ids) CHECK(all_ids.insert(id).second);  // never the same id twice
    total_completed += s.completed;
    rss.push_back(w.rss_bytes());
    std::printf("load: round %d: %d clients x %d jobs (64x64, 3 steps): %d completed in %.2f s (%.1f jobs/s), "
                "%d retries after 429, latency p50 %.0f ms p95 %.0f ms max %.0f ms, RSS %.1f MiB\n",
                round + 1, clients, jobs_per_round, s.completed, s.wall_s, s.completed / s.wall_s, s.retries_429,
                percentile(s.latencies_ms, 0.5), percentile(s.latencies_ms, 0.95), percentile(s.latencies_ms, 1.0),
                rss.back() / 1048576.0);
  }
  CHECK(static_cast<int>(all_ids.size()) == clients * jobs_per_round * rounds);

  // Every job is known to the worker as completed, and the counters agree.
  for (const auto& id : all_ids) {
    const HttpReply st = http_get(port, "/v1/jobs/" + id);
    CHECK(st.body.value("state", "") == "completed");
  }
  const std::string m = http_get(port, "/metrics").raw;
  CHECK(metric(m, "sdw_jobs_finished_total{state=\"completed\"}") == total_completed + 2);
  CHECK(metric(m, "sdw_jobs_finished_total{state=\"failed\"}") == 0);
  CHECK(metric(m, "sdw_jobs_submitted_total{operation=\"image_generation\"}") == total_completed + 2);
  CHECK(metric(m, "sdw_sse_streams") == 0);
  CHECK(metric(m, "sdw_queue_depth") == 0);

  const double growth_first = (rss[0] - rss_warm) / 1048576.0, growth_second = (rss[1] - rss[0]) / 1048576.0;
  std::printf("load: RSS warm %.1f MiB -> round 1 %.1f MiB (%+.1f) -> round 2 %.1f MiB (%+.1f)\n", rss_warm / 1048576.0,
              rss[0] / 1048576.0, growth_first, rss[1] / 1048576.0, growth_second);
  CHECK(growth_second < 32.0);
  CHECK(rss[1] < rss_warm + (256ll << 20));
  CHECK(w.stop() == 0);
}
