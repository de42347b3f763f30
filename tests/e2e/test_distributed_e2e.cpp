// One pipeline across processes on loopback (docs/distributed.md): `sd-worker node` processes
// serve stages of the tiny SD1.5 fixture to a front `sd-worker serve --stage STAGE=HOST:PORT`.
// Three processes (front, encoder+decoder node, denoiser node) give the single-process worker's
// PNG byte for byte; kill -9 or SIGSTOP of the denoiser node mid-job fails that job within the
// heartbeat bound with an error naming the node, and the next job runs on a replica, then
// locally; a node with another model, or without the shared secret, is refused and not used;
// a cancel reaches the remote denoiser; a node's own loading flags (VAE tiling here, from the
// command line or its --config file) apply to the stages it serves. The cases with a shared secret run over TLS (CAF's
// OpenSSL module, anonymous ECDH); test_distributed_tls_e2e.cpp checks the encryption and the
// certificates.
#include <catch.hpp>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <memory>
#include <thread>

#include "e2e/distributed_jobs.h"
#include "e2e/http_harness.h"
#include "e2e/node_process.h"
#include "model/image/image_io.h"
#include "test_util.h"

using namespace sdw;
using namespace sdw::test;
using nlohmann::json;
using clock_type = std::chrono::steady_clock;

using namespace sdw::test::distributed;

TEST_CASE("front + encoder/decoder node + denoiser node give the single-process PNG byte for byte",
          "[e2e][distributed]") {
  TempDir tmp;
  const std::string secret = secret_file(tmp, "secret", "correct horse battery staple");
  const json body = job(6, 1234);
  const std::string expected = single_process_png(body);

  NodeProcess ends({"--model", tiny(), "--stages", "encoder,decoder", "--secret", secret});
  NodeProcess middle({"--model", tiny(), "--stages", "denoiser", "--secret", secret});
  INFO(ends.banner() << "\n" << middle.banner());
  CHECK(middle.banner().find("transport tls, shared-secret handshake") != std::string::npos);
  WorkerProcess front(front_args({"--stage", "encoder=" + ends.address(), "--stage", "decoder=" + ends.address(),
                                  "--stage", "denoiser=" + middle.address(), "--secret", secret}));
  for (const char* stage : {"encoder", "denoiser", "decoder"}) {
    const json nodes = settled_nodes(front.port(), stage);
    INFO(nodes.dump());
    REQUIRE(nodes.size() == 1);
    REQUIRE(nodes[0]["state"] == "up");
  }
  int progress = 0, total = 0;
  auto [name, ev] = run_job(front.port(), body, [&](const SseEvent& e) {
    if (e.event == "progress") ++progress, total = e.json()["total"];
    return true;
  });
  INFO(ev.dump());
  REQUIRE(name == "complete");
  CHECK(png_of(ev) == expected);
  CHECK(progress >= 6);  // the remote denoiser's progress reached the front's stream, every step
  CHECK(progress == total);

  const json map = stages(front.port());
  INFO(map.dump());
  for (const char* stage : {"encoder", "denoiser", "decoder"}) {
    CHECK(map[stage]["placement"] == "remote");
    CHECK(map[stage]["nodes"][0]["transport"] == "tls");
    CHECK(map[stage]["nodes"][0]["requests"] == 1);
    CHECK(map[stage]["nodes"][0]["bytes_sent"].get<int64_t>() > 0);
    CHECK(map[stage]["nodes"][0]["bytes_received"].get<int64_t>() > 0);
    CHECK(map[stage]["local_fallbacks"] == 0);
  }
  const HttpReply metrics = http_get(front.port(), "/metrics");
  CHECK(metrics.raw.find("sdw_stage_node_up{stage=\"denoiser\",node=\"" + middle.address() + "\"} 1") != std::string::npos);
  CHECK(metrics.raw.find("sdw_stage_node_sent_bytes_total{stage=\"denoiser\"") != std::string::npos);
}

TEST_CASE("kill -9 of the denoiser node mid-job fails the job in bounded time naming the node; "
          "the next job runs on the replica, then locally",
          "[e2e][distributed]") {
  TempDir tmp;
  const std::string secret = secret_file(tmp, "secret", "correct horse battery staple");
  NodeProcess a({"--model", tiny(), "--stages", "denoiser", "--secret", secret});
  NodeProcess b({"--model", tiny(), "--stages", "denoiser", "--secret", secret});
  WorkerProcess front(front_args({"--stage", "denoiser=" + a.address(), "--stage", "denoiser=" + b.address(),
                                  "--secret", secret}));
  for (const auto& n : settled_nodes(front.port(), "denoiser")) REQUIRE(n["state"] == "up");

  // A long job; once its first step is reported, the node running it dies.
  std::string victim;
  clock_type::time_point killed_at;
  auto [name, ev] = run_job(front.port(), job(900, 5), [&](const SseEvent& e) {
    if (e.event == "progress" && victim.empty()) {
      victim = node_entry(front.port(), "denoiser", a.address())["in_flight"] == 1 ? a.address() : b.address();
      killed_at = clock_type::now();
      (victim == a.address() ? a : b).kill9();
    }
    return true;
  });
  const double seconds = std::chrono::duration<double>(clock_type::now() - killed_at).count();
  INFO(ev.dump() << " after " << seconds << " s");
  REQUIRE_FALSE(victim.empty());
  REQUIRE(name == "error");
  const std::string message = ev["message"].get<std::string>();
  CHECK(message.find("denoiser node " + victim) != std::string::npos);
  CHECK(message.find("went down") != std::string::npos);
  CHECK(seconds < kBoundSeconds);
  CHECK(node_entry(front.port(), "denoiser", victim)["state"] == "down");

  // The next job goes to the survivor and gives the single-process PNG.
  const json body = job(4, 99);
  const std::string expected = single_process_png(body);
  NodeProcess& survivor = victim == a.address() ? b : a;
  auto [name2, ev2] = run_job(front.port(), body);
  REQUIRE(name2 == "complete");
  CHECK(png_of(ev2) == expected);
  CHECK(node_entry(front.port(), "denoiser", survivor.address())["requests"] == 1);

  // With both nodes gone the stage runs in the front process.
  survivor.kill9();
  for (int i = 0; i < 400 && node_entry(front.port(), "denoiser", survivor.address())["state"] == "up"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  auto [name3, ev3] = run_job(front.port(), body);
  REQUIRE(name3 == "complete");
  CHECK(png_of(ev3) == expected);
  CHECK(stages(front.port())["denoiser"]["local_fallbacks"] == 1);
}

TEST_CASE("a stalled denoiser node (SIGSTOP) fails its job within the heartbeat bound", "[e2e][distributed]") {
  NodeProcess node({"--model", tiny(), "--stages", "denoiser", "--insecure-plaintext"});
  WorkerProcess front(front_args({"--stage", "denoiser=" + node.address(), "--insecure-plaintext"}));
  REQUIRE(settled_nodes(front.port(), "denoiser")[0]["state"] == "up");
  clock_type::time_point stopped_at;
  bool stopped = false;
  auto [name, ev] = run_job(front.port(), job(900, 5), [&](const SseEvent& e) {
    if (e.event == "progress" && !stopped) {
      stopped = true;
      stopped_at = clock_type::now();
      ::kill(node.pid(), SIGSTOP);
    }
    return true;
  });
  const double seconds = std::chrono::duration<double>(clock_type::now() - stopped_at).count();
  INFO(ev.dump() << " after " << seconds << " s");
  REQUIRE(name == "error");
  CHECK(ev["message"].get<std::string>().find("denoiser node " + node.address()) != std::string::npos);
  CHECK(ev["message"].get<std::string>().find("no heartbeat answer") != std::string::npos);
  CHECK(seconds < kBoundSeconds);
  ::kill(node.pid(), SIGCONT);
}

TEST_CASE("a node serving another model is refused with the reason, and the stage runs locally",
          "[e2e][distributed]") {
  NodeProcess other({"--model", fixture("pipelines/tiny-sd21v"), "--stages", "denoiser", "--insecure-plaintext"});
  WorkerProcess front(front_args({"--stage", "denoiser=" + other.address(), "--insecure-plaintext"}));
  const json nodes = settled_nodes(front.port(), "denoiser");
  INFO(nodes.dump());
  REQUIRE(nodes[0]["state"] == "refused");
  CHECK(nodes[0]["reason"].get<std::string>().find("differs") != std::string::npos);
  auto [name, ev] = run_job(front.port(), job(3, 8));
  CHECK(name == "complete");
  CHECK(stages(front.port())["denoiser"]["local_fallbacks"] == 1);
  CHECK(node_entry(front.port(), "denoiser", other.address())["requests"] == 0);
}

TEST_CASE("without the shared secret a front worker cannot use a node", "[e2e][distributed]") {
  TempDir tmp;
  NodeProcess node({"--model", tiny(), "--stages", "denoiser", "--secret",
                    secret_file(tmp, "node-secret", "correct horse battery staple")});
  SECTION("a wrong secret") {
    WorkerProcess front(front_args({"--stage", "denoiser=" + node.address(), "--secret",
                                    secret_file(tmp, "front-secret", "incorrect donkey battery staple")}));
    const json n = settled_nodes(front.port(), "denoiser")[0];
    INFO(n.dump());
    CHECK(n["state"] == "refused");
    CHECK(n["reason"].get<std::string>().find("authentication failed") != std::string::npos);
    auto [name, ev] = run_job(front.port(), job(3, 8));
    CHECK(name == "complete");
    CHECK(node_entry(front.port(), "denoiser", node.address())["requests"] == 0);
  }
  SECTION("no secret at all: a plaintext front does not get past the node's TLS") {
    WorkerProcess front(front_args({"--stage", "denoiser=" + node.address(), "--insecure-plaintext"}));
    const json n = settled_nodes(front.port(), "denoiser")[0];
    INFO(n.dump());
    CHECK(n["state"] == "down");
    CHECK(n["reason"].get<std::string>().find("handshake") != std::string::npos);
  }
  SECTION("a node without the secret (plaintext) is not used by a front that has it") {
    // (With TLS a node without the secret is a plaintext one and cannot even connect; the front still
    // checks a TLS node's MAC, remote_stage.cpp.)
    NodeProcess open_node({"--model", tiny(), "--stages", "denoiser", "--insecure-plaintext"});
    WorkerProcess front(front_args({"--stage", "denoiser=" + open_node.address(), "--secret",
                                    secret_file(tmp, "front-secret", "correct horse battery staple")}));
    const json n = settled_nodes(front.port(), "denoiser")[0];
    INFO(n.dump());
    CHECK(n["state"] == "down");
    CHECK(run_job(front.port(), job(3, 8)).first == "complete");
    CHECK(node_entry(front.port(), "denoiser", open_node.address())["requests"] == 0);
  }
}

TEST_CASE("a cancel reaches the remote denoiser: the job stops within a step", "[e2e][distributed]") {
  NodeProcess node({"--model", tiny(), "--stages", "denoiser", "--insecure-plaintext"});
  WorkerProcess front(front_args({"--stage", "denoiser=" + node.address(), "--insecure-plaintext"}));
  REQUIRE(settled_nodes(front.port(), "denoiser")[0]["state"] == "up");
  const HttpReply accepted = post_json(front.port(), job(900, 5));
  REQUIRE(accepted.status == 200);
  const std::string id = accepted.body["job_id"];
  int last_step = 0;
  bool cancelled = false;
  const SseStream s = read_sse(front.port(), "/v1/jobs/" + id + "/stream", {}, [&](const SseEvent& e) {
    if (e.event == "progress") last_step = e.json()["step"];
    if (e.event == "progress" && !cancelled) {
      cancelled = true;
      CHECK(http_delete(front.port(), "/v1/jobs/" + id).status == 200);
    }
    return true;
  });
  INFO(s.raw.substr(0, 2000));
  const bool cancel_marker = std::find(s.markers.begin(), s.markers.end(), "[CANCELLED]") != s.markers.end();
  REQUIRE((s.named("cancelled").size() == 1 || cancel_marker));
  CHECK(last_step < 900);
  // The node's denoiser stopped: its request came back (a `cancelled` error) within 5 s, while the
  // 900 steps would take far longer (about 35 ms a step here); the link stayed up.
  const auto t0 = clock_type::now();
  while (node_entry(front.port(), "denoiser", node.address())["in_flight"] != 0 &&
         clock_type::now() - t0 < std::chrono::seconds(5))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const json n = node_entry(front.port(), "denoiser", node.address());
  INFO(n.dump());
  CHECK(n["in_flight"] == 0);
  CHECK(n["state"] == "up");
  CHECK(n["failures"] == 1);  // the cancelled request
}

TEST_CASE("a node that comes back on its address is used again", "[e2e][distributed]") {
  auto node = std::make_unique<NodeProcess>(
      std::vector<std::string>{"--model", tiny(), "--stages", "denoiser", "--insecure-plaintext"});
  const std::string address = node->address();
  WorkerProcess front(front_args({"--stage", "denoiser=" + address, "--insecure-plaintext"}));
  REQUIRE(settled_nodes(front.port(), "denoiser")[0]["state"] == "up");
  node->kill9();
  for (int i = 0; i < 400 && node_entry(front.port(), "denoiser", address)["state"] == "up"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  REQUIRE(node_entry(front.port(), "denoiser", address)["state"] == "down");
  CHECK(run_job(front.port(), job(3, 8)).first == "complete");  // locally meanwhile
  CHECK(stages(front.port())["denoiser"]["local_fallbacks"] == 1);

  // The node restarts on the same address; the front reconnects within its retry interval.
  node.reset();
  NodeProcess again({"--model", tiny(), "--stages", "denoiser", "--insecure-plaintext"}, std::chrono::seconds(120),
                    address.substr(address.rfind(':') + 1));
  for (int i = 0; i < 400 && node_entry(front.port(), "denoiser", address)["state"] != "up"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  REQUIRE(node_entry(front.port(), "denoiser", address)["state"] == "up");
  CHECK(run_job(front.port(), job(3, 8)).first == "complete");
  CHECK(node_entry(front.port(), "denoiser", address)["requests"] == 1);
  CHECK(stages(front.port())["denoiser"]["local_fallbacks"] == 1);
}

TEST_CASE("the job deadline reaches the remote denoiser", "[e2e][distributed]") {
  NodeProcess node({"--model", tiny(), "--stages", "denoiser", "--insecure-plaintext"});
  WorkerProcess front(front_args({"--stage", "denoiser=" + node.address(), "--insecure-plaintext", "--job-timeout-s", "1"}));
  REQUIRE(settled_nodes(front.port(), "denoiser")[0]["state"] == "up");
  auto [name, ev] = run_job(front.port(), job(900, 5));  // about 30 s of steps here
  INFO(ev.dump());
  REQUIRE(name == "error");
  CHECK(ev["code"] == "timeout");
  // The node's denoiser was cancelled: its request came back within 5 s.
  const auto t0 = clock_type::now();
  while (node_entry(front.port(), "denoiser", node.address())["in_flight"] != 0 &&
         clock_type::now() - t0 < std::chrono::seconds(5))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(node_entry(front.port(), "denoiser", node.address())["in_flight"] == 0);
}

TEST_CASE("generate --stage runs the denoiser on a node and writes generate's PNG byte for byte, its flags included",
          "[e2e][distributed]") {
  TempDir tmp;
  NodeProcess node({"--model", tiny(), "--stages", "denoiser", "--insecure-plaintext"});
  const std::vector<std::string> base = {SDW_WORKER_BINARY, "generate", "--model", tiny(), "--prompt", "a red cube",
                                         "--width", "32", "--height", "32", "--steps", "5", "--seed", "9"};
  auto run = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), {"--output", tmp.file(out)});
    argv.insert(argv.end(), extra.begin(), extra.end());
    const ProcessResult p = run_process(argv);
    INFO(p.output());
    REQUIRE(p.exit_code == 0);
    return p.out;
  };
  run("local.png", {});
  const std::string out = run("remote.png", {"--stage", "denoiser=" + node.address(), "--insecure-plaintext"});
  CHECK(out.find("stage denoiser: node " + node.address() + " up, 1 request(s)") != std::string::npos);
  CHECK(read_bytes(tmp.file("remote.png")) == read_bytes(tmp.file("local.png")));

  // generate's memory flags reach the stages this process runs (here the decoder): a tiled decode,
  // another image than the plain one, the same as generate's own tiled run.
  const std::vector<std::string> tiled = {"--vae-tiling", "--vae-tile-size", "16", "--vae-tile-overlap", "0.25"};
  run("local_tiled.png", tiled);
  std::vector<std::string> remote_tiled = {"--stage", "denoiser=" + node.address(), "--insecure-plaintext"};
  remote_tiled.insert(remote_tiled.end(), tiled.begin(), tiled.end());
  run("remote_tiled.png", remote_tiled);
  CHECK(read_bytes(tmp.file("local_tiled.png")) != read_bytes(tmp.file("local.png")));
  CHECK(read_bytes(tmp.file("remote_tiled.png")) == read_bytes(tmp.file("local_tiled.png")));
}

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("node --config reads its settings from a JSON file; the command line wins; a bad file exits 2",
          "[e2e][distributed]") {
  TempDir tmp;
  const std::string config = tmp.file("node.json");
  std::ofstream(config) << "{\n  // a node for the denoiser\n  \"model\": \"" << tiny()
                        << "\",\n  \"stages\": \"denoiser\",\n  \"insecure_plaintext\": true,\n  \"stage-timeout-s\": 60\n}\n";
  {
    NodeProcess node({"--config", config});
    INFO(node.banner());
    CHECK(has(node.banner(), "stages denoiser,"));
    CHECK(has(node.banner(), "transport plaintext"));
    CHECK(has(node.banner(), "model " + tiny()));
    // The node serves: a front's job runs its denoiser there.
    WorkerProcess front(front_args({"--stage", "denoiser=" + node.address(), "--insecure-plaintext"}));
    REQUIRE(settled_nodes(front.port(), "denoiser")[0]["state"] == "up");
    CHECK(run_job(front.port(), job(3, 5)).first == "complete");
    CHECK(node_entry(front.port(), "denoiser", node.address())["requests"] == 1);
  }
  {
    NodeProcess node({"--config", config, "--stages", "encoder,decoder"});
    CHECK(has(node.banner(), "stages encoder,decoder,"));
  }
  std::ofstream(tmp.file("bad.json")) << "{\"model\": \"demo\", \"stagez\": \"denoiser\"}";
  const ProcessResult unknown = run_process({SDW_WORKER_BINARY, "node", "--config", tmp.file("bad.json")});
  CHECK(unknown.exit_code == 2);
  CHECK(has(unknown.err, "unknown setting 'stagez'"));
  std::ofstream(tmp.file("flag.json")) << "{\"insecure_plaintext\": \"yes\"}";
  const ProcessResult flag = run_process({SDW_WORKER_BINARY, "node", "--config", tmp.file("flag.json")});
  CHECK(flag.exit_code == 2);
  CHECK(has(flag.err, "must be true or false"));
}

TEST_CASE("a node runs its stages with its own loading flags, from the command line or --config; bad ones exit 2",
          "[e2e][distributed]") {
  TempDir tmp;
  const std::vector<std::string> tiled = {"--vae-tiling", "--vae-tile-size", "16", "--vae-tile-overlap", "0.25"};
  auto generate = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> argv = {SDW_WORKER_BINARY, "generate", "--model", tiny(), "--prompt", "a red cube",
                                     "--width", "32", "--height", "32", "--steps", "5", "--seed", "9",
                                     "--output", tmp.file(out)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const ProcessResult p = run_process(argv);
    INFO(p.output());
    REQUIRE(p.exit_code == 0);
    return read_bytes(tmp.file(out));
  };
  const auto plain = generate("plain.png", {});
  const auto local_tiled = generate("local_tiled.png", tiled);
  REQUIRE(local_tiled != plain);

  // The decoder on a node started with the tiling flags: generate (without them) gets the tiled image.
  std::vector<std::string> node_args = {"--model", tiny(), "--stages", "decoder", "--insecure-plaintext"};
  node_args.insert(node_args.end(), tiled.begin(), tiled.end());
  {
    NodeProcess node(node_args);
    CHECK(generate("node_tiled.png", {"--stage", "decoder=" + node.address(), "--insecure-plaintext"}) == local_tiled);
  }
  // The same settings from the node's JSON file (a flag's true, an option's number).
  const std::string config = tmp.file("node.json");
  std::ofstream(config) << "{\"model\": \"" << tiny() << "\", \"stages\": \"decoder\", \"insecure_plaintext\": true, "
                        << "\"vae_tiling\": true, \"vae_tile_size\": 16, \"vae_tile_overlap\": 0.25}";
  {
    NodeProcess node({"--config", config});
    CHECK(generate("config_tiled.png", {"--stage", "decoder=" + node.address(), "--insecure-plaintext"}) == local_tiled);
  }
  // A node without them decodes plainly.
  {
    NodeProcess node({"--model", tiny(), "--stages", "decoder", "--insecure-plaintext"});
    CHECK(generate("node_plain.png", {"--stage", "decoder=" + node.address(), "--insecure-plaintext"}) == plain);
  }

  auto refused = [&](std::vector<std::string> extra, const std::string& why) {
    std::vector<std::string> argv = {SDW_WORKER_BINARY, "node", "--model", tiny(), "--insecure-plaintext"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const ProcessResult p = run_process(argv);
    INFO(p.output());
    CHECK(p.exit_code == 2);
    CHECK(has(p.err, why));
  };
  refused({"--offload", "model"}, "--offload model moves weights from host memory to a GPU");
  refused({"--channels-last", "--no-channels-last"}, "--channels-last contradicts --no-channels-last");
  refused({"--fuse-qkv", "sometimes"}, "--fuse-qkv");
  refused({"--final-decoder", "taesd"}, "need --taesd DIR");
  refused({"--dtype", "fp8"}, "fp8");
  refused({"--controlnet", tmp.file("node.json")}, "--controlnet");
}

TEST_CASE("a front with two device slots shows its two links to one node as one /v1/models entry",
          "[e2e][distributed]") {
  NodeProcess node({"--model", tiny(), "--stages", "denoiser", "--insecure-plaintext"});
  WorkerProcess front(front_args({"--device", "cpu", "--device", "cpu", "--stage", "denoiser=" + node.address(),
                                  "--insecure-plaintext"}));
  json nodes;
  for (int i = 0; i < 400; ++i) {  // bounded: both slots' routers finish their handshakes
    nodes = stages(front.port())["denoiser"]["nodes"];
    if (nodes.size() == 1 && nodes[0]["links_up"] == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  INFO(nodes.dump());
  REQUIRE(nodes.size() == 1);
  CHECK(nodes[0]["state"] == "up");
  CHECK(nodes[0]["links"] == 2);
  CHECK(nodes[0]["links_up"] == 2);
  CHECK(run_job(front.port(), job(3, 5)).first == "complete");
  CHECK(run_job(front.port(), job(3, 6)).first == "complete");
  const json entry = node_entry(front.port(), "denoiser", node.address());
  CHECK(entry["requests"] == 2);  // whichever slot ran each job, both count on the one entry
  CHECK(entry["in_flight"] == 0);
}
