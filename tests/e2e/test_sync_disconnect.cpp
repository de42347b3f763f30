// Synchronous jobs (net/http/sync_job): a client of the A1111 or OpenAI route that closes its
// connection while its job runs cancels the job (the rbee job state, the /metrics cancelled
// counter), and the worker goes on serving the next request. Real sockets against the real
// binary; the waits are bounded polls of the worker's own state.
#include <catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "e2e/http_harness.h"

using namespace sdw::test;
using nlohmann::json;

namespace {

WorkerProcess& worker() {
  static WorkerProcess w({"--min-side", "64"});
  return w;
}

// A connection that has sent a whole POST and never reads the answer.
class RawPost {
 public:
  RawPost(int port, const std::string& path, const std::string& body) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const std::string request = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
                                "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    REQUIRE(::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
  }
  ~RawPost() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

double metric(const std::string& series) {
  const std::string text = http_get(worker().port(), "/metrics").raw;
  const auto pos = text.find("\n" + series + " ");
  REQUIRE(pos != std::string::npos);
  return std::stod(text.substr(pos + series.size() + 2));
}

const std::string kCancelled = "sdw_jobs_finished_total{state=\"cancelled\"}";
const std::string kRunning = "sdw_jobs{state=\"running\"}";

// Polls `done` every 5 ms for up to 30 s.
bool eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 6000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

}  // namespace

TEST_CASE("A1111: a client that disconnects during txt2img cancels its job; the worker serves on", "[e2e][a1111]") {
  const int port = worker().port();
  const double cancelled = metric(kCancelled);
  RawPost client(port, "/sdapi/v1/txt2img",
                 json({{"prompt", "a slow one"}, {"seed", 5}, {"steps", 150}, {"width", 256}, {"height", 256}}).dump());
  std::string job;
  REQUIRE(eventually([&] {
    job = http_get(port, "/sdapi/v1/progress").body["state"].value("job", "");
    return !job.empty() && http_get(port, "/v1/jobs/" + job).body.value("state", "") == "running";
  }));
  client.close();
  CHECK(wait_for_state(port, job, "cancelled") == "cancelled");
  CHECK(metric(kCancelled) == cancelled + 1);
  // The worker is free for the next client.
  const HttpReply next = http_post(port, "/sdapi/v1/txt2img",
                                   json({{"prompt", "next"}, {"seed", 1}, {"steps", 2}, {"width", 64}, {"height", 64}}).dump());
  CHECK(next.status == 200);
  CHECK(next.body["images"].size() == 1);
}

TEST_CASE("OpenAI: a client that disconnects during generations cancels its job; the worker serves on", "[e2e][openai]") {
  const int port = worker().port();
  REQUIRE(eventually([&] { return metric(kRunning) == 0; }));
  const double cancelled = metric(kCancelled);
  RawPost client(port, "/v1/images/generations",
                 json({{"prompt", "a slow one"}, {"size", "256x256"}, {"steps", 150}, {"seed", 5}}).dump());
  REQUIRE(eventually([&] { return metric(kRunning) == 1; }));
  client.close();
  CHECK(eventually([&] { return metric(kCancelled) == cancelled + 1; }));
  CHECK(metric(kRunning) == 0);
  const HttpReply next = http_post(port, "/v1/images/generations",
                                   json({{"prompt", "next"}, {"size", "64x64"}, {"steps", 2}, {"seed", 1}}).dump());
  INFO(next.raw.substr(0, 300));
  CHECK(next.status == 200);
  CHECK(next.body["data"].size() == 1);
}
