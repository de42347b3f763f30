// The connection layer's parts without a server: the connection table's caps and release, and
// the thread budget running as many blocked tasks at once as it is given (what keeps /health
// answering while other connections hold their threads), then retiring idle threads. The whole
// layer over real sockets is in tests/e2e/test_http_hostile.cpp.
#include <catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "net/http/connection_table.h"
#include "net/http/thread_budget.h"

using namespace sdw::net;

TEST_CASE("the connection table caps per address and in all, and frees on release", "[http][connections]") {
  ConnectionTable table({/*max_connections=*/4, /*max_connections_per_client=*/2});
  using A = ConnectionTable::Admission;
  CHECK(table.admit(10, "a") == A::admitted);
  CHECK(table.admit(11, "a") == A::admitted);
  CHECK(table.admit(12, "a") == A::client_full);
  CHECK(table.admit(13, "b") == A::admitted);
  CHECK(table.admit(14, "c") == A::admitted);
  CHECK(table.admit(15, "d") == A::server_full);
  CHECK(table.open() == 4);
  CHECK(table.refused() == 2);
  table.release(10);
  CHECK(table.admit(16, "a") == A::admitted);
  table.release(999);  // unknown: ignored
  CHECK(table.open() == 4);
  table.refuse_new();
  table.release(11);
  CHECK(table.admit(17, "e") == A::stopping);
}

TEST_CASE("the thread budget runs every blocked task at once, beyond its kept threads", "[http][connections]") {
  constexpr int kTasks = 64;
  ThreadBudget budget(/*keep_threads=*/4, /*max_threads=*/kTasks + 4, std::chrono::milliseconds(50));
  std::mutex m;
  std::condition_variable cv;
  int running = 0;
  bool release = false;
  for (int i = 0; i < kTasks; ++i) {
    budget.enqueue([&] {
      std::unique_lock<std::mutex> lock(m);
      ++running;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });  // holds its thread like a slow client does
    });
  }
  {
    std::unique_lock<std::mutex> lock(m);
    // Every task holds its thread at the same time: had the budget stopped at its kept threads,
    // this would wait forever (the 10 s bound turns that into a failure).
    CHECK(cv.wait_for(lock, std::chrono::seconds(10), [&] { return running == kTasks; }));
    release = true;
  }
  cv.notify_all();
  CHECK(budget.threads() >= static_cast<size_t>(kTasks));
  // Idle threads above the kept ones retire (50 ms idle here).
  bool retired = false;
  for (int i = 0; i < 200 && !retired; ++i) {
    retired = budget.threads() <= 4;
    if (!retired) std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a count, bounded
  }
  CHECK(retired);
  std::atomic<int> done{0};
  for (int i = 0; i < 10; ++i) budget.enqueue([&] { ++done; });
  budget.shutdown();  // runs what was queued, then ends every thread
  CHECK(done == 10);
  CHECK(budget.threads() == 0);
}
