// The actor layer's job table (actors/job_table.h) with explicit time points: the bounded queue,
// history, TTL and count eviction, the cap on finished jobs' image bytes, and job ids (random
// version-4 UUIDs).
#include <catch.hpp>

#include <random>
#include <regex>
#include <set>

#include "actors/job_table.h"

using namespace sdw;
using namespace sdw::actors;
using namespace std::chrono_literals;

TEST_CASE("the job table: bounded queue, history, TTL and count eviction", "[actors]") {
  job_table t(2, 3, 100ms);
  const auto t0 = clock_type::now();
  auto request = [](int steps) {
    ResolvedRequest r;
    r.request.steps = steps;
    r.request.init_image.pixels = std::vector<uint8_t>(1000, 'x');
    return r;
  };
  t.add("a", JobSubmission{}, request(4), t0, t0 + 1s);
  t.add("b", JobSubmission{}, request(4), t0, t0 + 1s);
  CHECK(t.queue_full());
  CHECK(t.queue_position("b") == 2);
  REQUIRE(t.pop_queued().value() == "a");
  job_record& a = *t.find("a");
  t.start(a, 0, t0);
  CHECK(t.running() == 1);
  CHECK_FALSE(t.queue_full());
  CHECK(t.queue_position("b") == 1);
  JobEvent done;
  done.type = JobEvent::Type::complete;
  t.append(a, done);
  t.finish(a, JobState::completed, t0 + 10ms);
  CHECK(t.find("a")->request.request.init_image.pixels.empty());  // the request's images are let go
  REQUIRE(t.find("a")->events.size() == 3);            // queued, started, complete
  CHECK(t.find("a")->events[0].type == JobEvent::Type::queued);
  CHECK(t.find("a")->events[0].job_id == "a");
  // A queued job can finish (cancel): it leaves the queue.
  t.finish(*t.find("b"), JobState::cancelled, t0 + 20ms);
  CHECK(t.queued() == 0);
  CHECK(t.counts().completed == 1);
  CHECK(t.counts().cancelled == 1);
  // TTL: nothing before 100 ms after finishing, then the oldest first.
  CHECK(t.evict(t0 + 50ms).empty());
  CHECK(t.next_expiry().value() == t0 + 110ms);
  CHECK(t.evict(t0 + 110ms) == std::vector<std::string>{"a"});
  CHECK(t.evict(t0 + 120ms) == std::vector<std::string>{"b"});
  CHECK(t.size() == 0);
  CHECK_FALSE(t.next_expiry());
  // Count: at most 3 finished jobs are kept, whatever the TTL.
  for (int i = 0; i < 6; ++i) {
    const std::string id = "j" + std::to_string(i);
    t.add(id, JobSubmission{}, request(1), t0, t0 + 1s);
    t.finish(*t.find(id), JobState::failed, t0 + 200ms);
  }
  CHECK(t.evict(t0 + 200ms) == std::vector<std::string>{"j0", "j1", "j2"});
  CHECK(t.size() == 3);
  CHECK(t.find("j5"));
}

TEST_CASE("the job table keeps at most max_finished_bytes of image data, the newest result always", "[actors]") {
  job_table t(8, 100, 1h, /*max_finished_bytes=*/2500);
  const auto t0 = clock_type::now();
  auto finish_with_image = [&](const std::string& id, size_t bytes) {
    job_record& job = t.add(id, JobSubmission{}, ResolvedRequest{}, t0, t0 + 1s);
    t.finish(job, JobState::completed, t0);
    JobEvent done;
    done.type = JobEvent::Type::complete;
    done.images.push_back(EncodedImage{std::string(bytes, 'p'), "png", 8, 8});
    t.append(job, done);
  };
  finish_with_image("a", 1000);
  finish_with_image("b", 1000);
  CHECK(t.evict(t0).empty());  // 2000 bytes: within the cap
  finish_with_image("c", 1000);
  CHECK(t.evict(t0) == std::vector<std::string>{"a"});  // 3000 > 2500: the oldest goes
  CHECK(t.find("b"));
  CHECK(t.find("c"));
  finish_with_image("d", 5000);  // alone over the cap: the others go, the newest result stays
  CHECK(t.evict(t0) == std::vector<std::string>{"b", "c"});
  CHECK(t.find("d"));
  CHECK(t.size() == 1);
}

TEST_CASE("job ids are random version-4 UUIDs", "[actors]") {
  std::mt19937_64 rng{std::random_device{}()};
  std::set<std::string> ids;
  const std::regex form("job-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  for (int i = 0; i < 1000; ++i) {
    std::string id = new_job_id(rng);
    CHECK(std::regex_match(id, form));
    ids.insert(id);
  }
  CHECK(ids.size() == 1000);
}
