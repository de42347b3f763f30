// rbee's network and local modes through the real binary: spawned as rbee-hive spawns it (no
// `serve` word) with a token, the worker listens on all interfaces (0.0.0.0, read from the
// kernel's socket table) and every protected route demands the token; without a token it refuses
// to start and says why; --local-mode listens on loopback without auth and refuses a token;
// `sd-worker serve` keeps loopback; --host overrides; --insecure-no-auth opens the network on purpose;
// a second worker on a port in use fails to start (no SO_REUSEPORT sharing).
#include <catch.hpp>

#include <fstream>
#include <sstream>

#include "e2e/http_harness.h"
#include "test_util.h"

using namespace sdw::test;

namespace {

// The local address the kernel lists for a TCP socket listening on `port` ("0.0.0.0",
// "127.0.0.1"), from /proc/net/tcp; "" when none listens there.
std::string listening_address(int port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  char want[8];
  std::snprintf(want, sizeof want, ":%04X", port);
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string slot, local, remote, state;
    ss >> slot >> local >> remote >> state;
    if (state != "0A" || local.size() != 13 || local.substr(8) != want) continue;  // 0A: LISTEN
    const unsigned long a = std::stoul(local.substr(0, 8), nullptr, 16);            // little-endian IPv4
    return std::to_string(a & 0xff) + "." + std::to_string((a >> 8) & 0xff) + "." + std::to_string((a >> 16) & 0xff) +
           "." + std::to_string(a >> 24);
  }
  return "";
}

const std::vector<std::string> kTokenEnv = {"LLORCH_API_TOKEN", "SD_WORKER_HOST", "SD_WORKER_LOCAL_MODE", "SD_WORKER_INSECURE_NO_AUTH"};

std::vector<std::string> hive_args(int port) {
  return {"--worker-id", "worker-sd-" + std::to_string(port), "--model", "demo", "--port", std::to_string(port), "--quiet"};
}

}  // namespace

TEST_CASE("spawned by the hive with a token: all interfaces, and the token is demanded", "[rbee][cli]") {
  WorkerProcess w({"--worker-id", "worker-sd-net", "--model", "demo", "--quiet"}, {{"LLORCH_API_TOKEN", "s3cret"}},
                  /*serve_word=*/false, WorkerProcess::WaitFor::ready, {}, /*loopback_host=*/false);
  CHECK(listening_address(w.port()) == "0.0.0.0");
  CHECK(http_get(w.port(), "/v1/models").status == 401);
  CHECK(http_get(w.port(), "/v1/models", {{"Authorization", "Bearer wrong"}}).status == 401);
  CHECK(http_get(w.port(), "/v1/models", {{"Authorization", "Bearer s3cret"}}).status == 200);
  CHECK(http_get(w.port(), "/health").status == 200);  // the hive's poll needs no token
  CHECK_THAT(w.log(), Catch::Contains("listening on http://0.0.0.0:"));
}

TEST_CASE("spawned by the hive without a token: refuses to start and says why", "[rbee][cli]") {
  const int port = free_port();
  const ProcessResult r = run_process([&] {
    std::vector<std::string> argv = {SDW_WORKER_BINARY};
    for (auto& a : hive_args(port)) argv.push_back(a);
    return argv;
  }(), {}, kTokenEnv);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output(), Catch::Contains("needs a bearer token") && Catch::Contains("LLORCH_API_TOKEN") &&
                             Catch::Contains("--local-mode"));
  CHECK(listening_address(port).empty());
  // The same on `serve --host 0.0.0.0`.
  const ProcessResult s = run_process({SDW_WORKER_BINARY, "serve", "--host", "0.0.0.0", "--port", std::to_string(port)}, {}, kTokenEnv);
  CHECK(s.exit_code == 2);
  CHECK_THAT(s.output(), Catch::Contains("needs a bearer token"));
}

TEST_CASE("--local-mode: loopback without auth; a token is refused", "[rbee][cli]") {
  {
    WorkerProcess w({"--worker-id", "worker-sd-local", "--model", "demo", "--local-mode", "--quiet"}, {}, false,
                    WorkerProcess::WaitFor::ready, {}, /*loopback_host=*/false);
    CHECK(listening_address(w.port()) == "127.0.0.1");
    CHECK(http_get(w.port(), "/v1/models").status == 200);
  }
  const ProcessResult r = run_process({SDW_WORKER_BINARY, "--worker-id", "w", "--local-mode", "--port", "0"},
                                      {{"LLORCH_API_TOKEN", "s3cret"}}, {"SD_WORKER_HOST"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output(), Catch::Contains("--local-mode serves loopback without auth"));
}

TEST_CASE("a second worker on a port in use refuses to start instead of sharing it", "[rbee][cli]") {
  WorkerProcess first({"--model", "demo", "--quiet"});
  const ProcessResult second =
      run_process({SDW_WORKER_BINARY, "serve", "--model", "demo", "--host", "127.0.0.1", "--port", std::to_string(first.port())});
  CHECK(second.exit_code == 1);
  CHECK_THAT(second.output(), Catch::Contains("cannot bind 127.0.0.1:" + std::to_string(first.port())));
  CHECK(http_get(first.port(), "/health").status == 200);
}

TEST_CASE("`serve` keeps loopback; --host overrides; --insecure-no-auth opens the network on purpose", "[rbee][cli]") {
  {
    WorkerProcess w({"--model", "demo", "--quiet"}, {}, true, WorkerProcess::WaitFor::ready, {}, /*loopback_host=*/false);
    CHECK(listening_address(w.port()) == "127.0.0.1");
  }
  {
    WorkerProcess w({"--model", "demo", "--quiet", "--host", "0.0.0.0", "--insecure-no-auth"}, {}, true,
                    WorkerProcess::WaitFor::ready, {}, /*loopback_host=*/false);
    CHECK(listening_address(w.port()) == "0.0.0.0");
    CHECK(http_get(w.port(), "/v1/models").status == 200);
  }
  {  // the hive's form with --host loopback: no token needed
    WorkerProcess w({"--worker-id", "worker-sd-lo", "--model", "demo", "--host", "127.0.0.1", "--quiet"}, {}, false,
                    WorkerProcess::WaitFor::ready, {}, /*loopback_host=*/false);
    CHECK(listening_address(w.port()) == "127.0.0.1");
  }
}
