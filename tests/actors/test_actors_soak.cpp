// Long run of the actor layer (label `slow`): 3000 small jobs on the demo model with finished jobs
// dropped by TTL, and the process's resident memory measured along the way. The default suite
// runs the 500-job variant in test_actors.cpp.
#include <catch.hpp>

#include <chrono>
#include <fstream>
#include <iostream>

#include "actors/worker.h"

using namespace sdw;
using namespace std::chrono_literals;

namespace {

int64_t rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

}  // namespace

TEST_CASE("3000 jobs in a row: memory stays bounded and expired jobs are dropped", "[actors][slow]") {
  WorkerConfig c;
  c.result_ttl = 2s;
  c.max_finished_jobs = 100000;  // only the TTL drops jobs here
  auto w = Worker::start(c);
  REQUIRE(w->wait_ready(120s));
  std::vector<std::string> ids;
  std::vector<std::pair<int, int64_t>> rss;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 3000; ++i) {
    JobSubmission j;
    j.request.prompt = "soak " + std::to_string(i);
    j.request.width = j.request.height = 64;
    j.request.steps = 1 + i % 2;
    j.request.seed = static_cast<uint64_t>(i);
    j.preview_every = 1;
    const std::string id = w->submit(j);
    ids.push_back(id);
    auto s = w->subscribe(id);
    JobEvent e, last;
    const auto end = std::chrono::steady_clock::now() + 60s;
    while (!s->finished() && std::chrono::steady_clock::now() < end)
      if (s->next(e, 1s)) last = e;
    REQUIRE(last.type == JobEvent::Type::complete);
    if ((i + 1) % 500 == 0) rss.emplace_back(i + 1, rss_kib());
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "3000 jobs (demo, 64x64, 1-2 steps, previews): " << ms / 3000 << " ms/job; VmRSS (KiB) after";
  for (auto& [n, kib] : rss) std::cout << " " << n << ": " << kib;
  std::cout << "\n";
  CHECK(rss.back().second - rss.front().second < 32 * 1024);  // < 32 MiB from job 500 to job 3000
  CHECK(w->health().jobs_completed == 3000);
  CHECK_THROWS_AS(w->status(ids.front()), WorkerError);  // finished long before the 2 s TTL
  CHECK(w->status(ids.back()).state == JobState::completed);
}

