// `sd-worker serve` under hostile and careless clients, over real loopback sockets: header
// drippers and idle SSE readers at twice the thread count while /health keeps answering within
// 100 ms, the per-address and total connection caps, the whole-request deadline (408), bodies
// refused while being read (chunked over the limit, unauthenticated, unroutable), pipelined
// requests answered in order, connections closed after untrusted framing, SIGTERM with slow
// clients inside the grace period, and RSS returning to a plateau after a loop of nested-JSON and
// oversized requests. Clients come from several loopback addresses (127.0.0.2...) so the
// per-address cap and the total can be told apart.
#include <catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "e2e/http_harness.h"

using namespace sdw::test;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// A client socket from a chosen loopback address.
class RawClient {
 public:
  RawClient(int port, const std::string& from = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, from.c_str(), &local.sin_addr);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  bool send(const std::string& bytes) { return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()); }
  // Everything the server sends until it closes or `timeout` passes.
  std::string read_all(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) { return read_until("", timeout); }
  // Reads until `needle` has arrived (never, when empty), the server closes, or `timeout` passes.
  std::string read_until(const std::string& needle, std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    std::string out;
    const auto until = Clock::now() + timeout;
    char buf[16384];
    while ((needle.empty() || out.find(needle) == std::string::npos) && Clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (::poll(&p, 1, static_cast<int>(std::max<long long>(left, 1))) <= 0) break;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
};

std::string from_address(int i) { return "127.0.0." + std::to_string(2 + i % 8); }

// The slowest of `n` GET /health round trips on fresh connections, in ms.
double slowest_health_ms(int port, int n = 10) {
  double worst = 0;
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    RawClient c(port);
    c.send("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const std::string reply = c.read_all(std::chrono::milliseconds(5000));
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    REQUIRE(reply.rfind("HTTP/1.1 200", 0) == 0);
    worst = std::max(worst, ms);
  }
  return worst;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

const std::string kJob = demo_job(2, 1).dump();

}  // namespace

TEST_CASE("health answers within 100 ms while twice the thread count of clients drip headers", "[e2e][hostile]") {
  constexpr int kThreads = 16;
  WorkerProcess w({"--http-threads", std::to_string(kThreads), "--header-timeout-s", "3"});
  std::vector<std::unique_ptr<RawClient>> drippers;
  for (int i = 0; i < 2 * kThreads * 4; ++i) {  // 128: 8x the threads kept ready, 16 per address
    drippers.push_back(std::make_unique<RawClient>(w.port(), from_address(i)));
    REQUIRE(drippers.back()->connected());
    drippers.back()->send("GET /health HTTP/1.1\r\nHost: x\r\n");
  }
  // Drip one header line per client every 200 ms while health is measured: a per-read timeout
  // would never fire.
  std::atomic<bool> dripping{true};
  std::thread drip([&] {
    while (dripping) {
      for (auto& d : drippers) d->send("X-Drip: 1\r\n");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  const double worst = slowest_health_ms(w.port());
  CHECK(worst < 100.0);
  // The whole-request deadline (3 s for the headers) ends every dripper with 408.
  const auto t0 = Clock::now();
  const std::string first = drippers.front()->read_until("REQUEST_TIMEOUT", std::chrono::milliseconds(8000));
  dripping = false;
  drip.join();
  CHECK(first.rfind("HTTP/1.1 408", 0) == 0);
  CHECK(std::chrono::duration<double>(Clock::now() - t0).count() < 6.0);
  int timed_out = 1;  // the first one, read above
  for (auto& d : drippers)
    if (d != drippers.front()) timed_out += d->read_until("REQUEST_TIMEOUT", std::chrono::milliseconds(3000)).find("408") != std::string::npos;
  CHECK(timed_out == static_cast<int>(drippers.size()));
  CHECK(w.alive());
}

TEST_CASE("health answers within 100 ms while twice the thread count of SSE readers sit idle", "[e2e][hostile]") {
  constexpr int kThreads = 16;
  constexpr int kStreams = 2 * kThreads;
  WorkerProcess w({"--http-threads", std::to_string(kThreads), "--max-streams", std::to_string(kStreams), "--max-side", "2048",
                   "--max-steps", "1000", "--sse-keepalive-ms", "60000"});
  // One long job; its streams stay open (and unread) while it runs.
  json long_job = demo_job(1000, 1);
  long_job["width"] = long_job["height"] = 2048;
  const HttpReply job = post_json(w.port(), long_job);
  INFO(job.raw);
  REQUIRE(job.status == 200);
  const std::string id = job.body["job_id"];
  const std::string open = "GET /v1/jobs/" + id + "/stream HTTP/1.1\r\nHost: x\r\n\r\n";
  std::vector<std::unique_ptr<RawClient>> readers;
  for (int i = 0; i < kStreams; ++i) {
    readers.push_back(std::make_unique<RawClient>(w.port(), from_address(i)));
    REQUIRE(readers.back()->connected());
    readers.back()->send(open);
    REQUIRE(readers.back()->read_until("text/event-stream").find("200 OK") != std::string::npos);
  }
  CHECK(slowest_health_ms(w.port()) < 100.0);
  // One stream past the cap: 503 in the error shape, with Retry-After.
  RawClient extra(w.port(), "127.0.0.20");
  extra.send(open);
  const std::string refused = extra.read_until("}}");
  CHECK(refused.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(refused.find("TOO_MANY_STREAMS") != std::string::npos);
  CHECK(refused.find("Retry-After: ") != std::string::npos);
  CHECK(http_delete(w.port(), "/v1/jobs/" + id).status == 200);
  CHECK(readers.front()->read_until("[CANCELLED]").find("[CANCELLED]") != std::string::npos);
}

TEST_CASE("connections past the per-address cap get 429 and past the total 503; others are served", "[e2e][hostile]") {
  WorkerProcess w({"--max-connections", "8", "--max-connections-per-client", "3"});
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 3; ++i) held.push_back(std::make_unique<RawClient>(w.port(), "127.0.0.2"));
  for (auto& c : held) REQUIRE(c->connected());
  // The table counts a connection once its thread has taken it: a round trip on the last one
  // proves all three are in.
  for (auto& c : held) {
    c->send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(c->read_until("healthy").find("200 OK") != std::string::npos);
  }
  RawClient fourth(w.port(), "127.0.0.2");
  const std::string per_client = fourth.read_until("}}");
  CHECK(per_client.rfind("HTTP/1.1 429", 0) == 0);
  CHECK(per_client.find("TOO_MANY_CONNECTIONS") != std::string::npos);
  CHECK(per_client.find("Retry-After: 1") != std::string::npos);
  // Another address is still served.
  RawClient other(w.port(), "127.0.0.3");
  other.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(other.read_until("healthy").find("200 OK") != std::string::npos);
  // Fill the total (8): 3 + 1 + 4 more.
  std::vector<std::unique_ptr<RawClient>> more;
  for (int i = 0; i < 4; ++i) {
    more.push_back(std::make_unique<RawClient>(w.port(), "127.0.0." + std::to_string(4 + i)));
    more.back()->send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(more.back()->read_until("healthy").find("200 OK") != std::string::npos);
  }
  RawClient ninth(w.port(), "127.0.0.9");
  const std::string total = ninth.read_until("}}");
  CHECK(total.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(total.find("TOO_MANY_CONNECTIONS") != std::string::npos);
  // Once held connections close, new ones are admitted again.
  held.clear();
  more.clear();
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {  // the server notices the closes asynchronously
    RawClient again(w.port(), "127.0.0.2");
    again.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    served = again.read_until("}").find("200 OK") != std::string::npos;
  }
  CHECK(served);
  const std::string metrics = http_get(w.port(), "/metrics").raw;
  const size_t at = metrics.find("\nsdw_http_connections_refused_total ");
  REQUIRE(at != std::string::npos);
  CHECK(std::stoi(metrics.substr(at + 36)) >= 2);
}

TEST_CASE("bodies are refused while being read: chunked over the limit, unauthenticated, unroutable, too long", "[e2e][hostile]") {
  WorkerProcess w({"--max-body-bytes", "4096", "--api-token", "sekrit"});
  const std::string chunk = "400\r\n" + std::string(1024, 'a') + "\r\n";
  SECTION("chunked body past the limit: 413 before the last chunk is sent") {
    RawClient c(w.port());
    c.send("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekrit\r\nContent-Type: application/json\r\n"
           "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 6; ++i) c.send(chunk);  // 6 KiB, never terminated
    const std::string reply = c.read_until("}}");
    CHECK(reply.rfind("HTTP/1.1 413", 0) == 0);
    CHECK(reply.find("BODY_TOO_LARGE") != std::string::npos);
    CHECK(reply.find("Connection: close") != std::string::npos);
  }
  SECTION("unauthenticated: 401 before any body byte is sent") {
    RawClient c(w.port());
    c.send("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n");
    const std::string reply = c.read_until("}}", std::chrono::milliseconds(5000));
    CHECK(reply.rfind("HTTP/1.1 401", 0) == 0);
    CHECK(reply.find("MISSING_API_KEY") != std::string::npos);
    CHECK(c.read_all().empty());
    CHECK(c.closed());  // the unread body is never taken for a next request
  }
  SECTION("unauthenticated chunked body: 401 after the headers") {
    RawClient c(w.port());
    c.send("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk);
    const std::string reply = c.read_until("}}");
    CHECK(reply.rfind("HTTP/1.1 401", 0) == 0);
    CHECK(reply.find("INVALID_API_KEY") != std::string::npos);
  }
  SECTION("unroutable: 404 / 405 before the body") {
    RawClient c(w.port());
    c.send("POST /v1/nothing HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n");
    CHECK(c.read_until("}}").rfind("HTTP/1.1 404", 0) == 0);
    RawClient d(w.port());
    d.send("PUT /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n");
    const std::string reply = d.read_until("}}");
    CHECK(reply.rfind("HTTP/1.1 405", 0) == 0);
    CHECK(reply.find("Allow: POST, OPTIONS") != std::string::npos);
  }
  SECTION("declared length past the limit: 413 before the body") {
    RawClient c(w.port());
    c.send("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sekrit\r\nContent-Length: 10000000000\r\n\r\n");
    const std::string reply = c.read_until("}}");
    CHECK(reply.rfind("HTTP/1.1 413", 0) == 0);
  }
  SECTION("a body that stops arriving: 408 at the request deadline") {
    WorkerProcess quick({"--request-timeout-s", "2", "--header-timeout-s", "1"});
    RawClient c(quick.port());
    const auto t0 = Clock::now();
    c.send("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"op");
    const std::string reply = c.read_until("}}");
    CHECK(reply.rfind("HTTP/1.1 408", 0) == 0);
    CHECK(reply.find("REQUEST_TIMEOUT") != std::string::npos);
    CHECK(std::chrono::duration<double>(Clock::now() - t0).count() < 5.0);
  }
  CHECK(http_get(w.port(), "/health").status == 200);
}

TEST_CASE("pipelined requests are answered in order; untrusted framing closes the connection", "[e2e][hostile]") {
  WorkerProcess w({"--min-side", "64"});
  SECTION("three requests in one write, three responses in order") {
    RawClient c(w.port());
    c.send("GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: first\r\n\r\n"
           "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nX-Request-Id: second\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(kJob.size()) + "\r\n\r\n" + kJob +
           "GET /ready HTTP/1.1\r\nHost: x\r\nX-Request-Id: third\r\nConnection: close\r\n\r\n");
    const std::string replies = c.read_all();
    CHECK(count(replies, "HTTP/1.1 200 OK") == 3);
    const size_t a = replies.find("X-Request-Id: first"), b = replies.find("X-Request-Id: second"),
                 d = replies.find("X-Request-Id: third");
    REQUIRE(a != std::string::npos);
    REQUIRE(b != std::string::npos);
    REQUIRE(d != std::string::npos);
    CHECK(a < b);
    CHECK(b < d);
    CHECK(replies.find("\"job_id\"") != std::string::npos);
  }
  SECTION("conflicting lengths: 400, and the bytes after it are never served") {
    RawClient c(w.port());
    c.send("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhello"
           "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string replies = c.read_all();
    CHECK(replies.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(replies.find("BAD_FRAMING") != std::string::npos);
    CHECK(count(replies, "HTTP/1.1 ") == 1);
    CHECK(c.closed());
  }
}

TEST_CASE("SIGTERM with slow and idle clients exits within the grace period plus a small bound", "[e2e][hostile]") {
  WorkerProcess w({"--shutdown-grace-s", "3"});
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 100; ++i) {
    clients.push_back(std::make_unique<RawClient>(w.port(), from_address(i)));
    clients.back()->send("GET /health HTTP/1.1\r\nX-Slow: ");  // never finished
  }
  for (int i = 0; i < 20; ++i) {  // idle keep-alive connections
    clients.push_back(std::make_unique<RawClient>(w.port(), from_address(i)));
    clients.back()->send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(clients.back()->read_until("healthy").find("200 OK") != std::string::npos);
  }
  const auto t0 = Clock::now();
  CHECK(w.stop(std::chrono::seconds(30)) == 0);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  CHECK(seconds < 3.0 + 2.0);
}

TEST_CASE("RSS returns to a plateau over a loop of nested-JSON and oversized requests", "[e2e][hostile]") {
  WorkerProcess w({"--max-body-bytes", "8388608"});
  const std::string nested = std::string(4u << 20, '[') + std::string(4u << 20, ']');  // 8 MiB, refused at depth 64
  const std::string chunk = "100000\r\n" + std::string(1u << 20, 'a') + "\r\n";       // 1 MiB chunks
  auto round = [&] {
    for (int i = 0; i < 8; ++i) {
      CHECK(http_post(w.port(), "/v1/jobs", nested).status == 400);
      RawClient c(w.port());  // a chunked body past the limit
      c.send("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
      for (int k = 0; k < 12 && c.send(chunk); ++k) {
      }
      CHECK(c.read_until("}}").rfind("HTTP/1.1 413", 0) == 0);
    }
  };
  round();
  const int64_t after_first = w.rss_bytes();
  for (int r = 0; r < 3; ++r) round();
  const int64_t after_last = w.rss_bytes();
  INFO("RSS after the first round " << after_first / (1 << 20) << " MiB, after four " << after_last / (1 << 20) << " MiB");
  CHECK(after_last - after_first < (48 << 20));
  CHECK(http_get(w.port(), "/health").status == 200);
}
