// `sd-worker serve` (see cli_serve.h): flags (CLI11, each also from the environment where rbee
// uses one), the Worker, the HTTP server, and signal handling: the first SIGINT/SIGTERM shuts the
// worker down with a grace period and then stops the server; a second one exits at once.
#include "runtime/cli_serve.h"

#include <ATen/Context.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include "actors/worker.h"
#include "net/heartbeat.h"
#include "net/http_server.h"
#include "runtime/model_source.h"

namespace fs = std::filesystem;

namespace sdw {
namespace {

struct ServeArgs {
  std::string model = "demo";
  std::vector<std::string> aliases;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::vector<std::string> devices{"cpu"};
  std::string dtype = "fp32";
  size_t queue_size = 16;
  std::string api_token;
  std::vector<std::string> cors_origins;
  size_t max_body_bytes = 32u << 20;
  int min_side = 256, max_side = 2048, max_steps = 150;
  int http_threads = 64;
  int sse_keepalive_ms = 5000;
  int preview_every = 0;
  int job_timeout_s = 600, result_ttl_s = 600, shutdown_grace_s = 30;
  std::string worker_id, queen_url, callback_url;
  double heartbeat_interval_s = 30;
  bool quiet = false;
};

int g_signal_pipe[2] = {-1, -1};
std::atomic<int> g_signal_count{0};

// Async-signal-safe: the first signal goes to the watcher thread, a second one exits at once.
void on_signal(int sig) {
  if (g_signal_count.fetch_add(1) > 0) _exit(128 + sig);
  const unsigned char byte = static_cast<unsigned char>(sig);
  (void)!write(g_signal_pipe[1], &byte, 1);
}

void log_line(const std::string& line) { std::cerr << "sd-worker: " + line + "\n" << std::flush; }

// rbee-hive passes `--device <n>`: a bare index means that CUDA device where there is one.
std::string device_name(const std::string& d) {
  if (d.empty() || d.find_first_not_of("0123456789") != std::string::npos) return d;
  if (at::hasCUDA()) return "cuda:" + d;
  log_line("device '" + d + "' given as an index but this build has no CUDA: using cpu");
  return "cpu";
}

}  // namespace

int run_serve(int argc, char** argv) {
  ServeArgs a;
  CLI::App app{"Serve the worker over HTTP (rbee job protocol).", "sd-worker serve"};
  app.add_option("--model,--model-path", a.model, "'demo' (built-in, default), a diffusers folder")->envname("MODEL_PATH");
  app.add_option("--model-alias", a.aliases, "another name jobs may use for the model (repeatable)");
  app.add_option("--host", a.host, "address to bind (default loopback only)");
  app.add_option("--port", a.port, "port to bind (0: any free port)")->envname("PORT")->check(CLI::Range(0, 65535));
  app.add_option("--device", a.devices, "cpu | cuda:N | N | mps (repeatable: one stage set per device)");
  app.add_option("--dtype", a.dtype, "fp32 | fp16 | bf16");
  app.add_option("--queue-size", a.queue_size, "jobs waiting beyond the running ones (then 429)")->check(CLI::Range(1, 100000));
  app.add_option("--api-token", a.api_token, "bearer token required on every route but /, /health, /ready")
      ->envname("LLORCH_API_TOKEN");
  app.add_option("--cors-origin", a.cors_origins, "allowed browser origin (repeatable; '*' for any, without credentials)");
  app.add_option("--max-body-bytes", a.max_body_bytes, "largest request body (413 above)")->check(CLI::Range(1024, 1 << 30));
  app.add_option("--min-side", a.min_side, "smallest width/height accepted")->check(CLI::Range(8, 4096));
  app.add_option("--max-side", a.max_side, "largest width/height accepted")->check(CLI::Range(8, 8192));
  app.add_option("--max-steps", a.max_steps, "most denoising steps accepted")->check(CLI::Range(1, 1000));
  app.add_option("--http-threads", a.http_threads, "connection threads (each open stream holds one)")->check(CLI::Range(2, 4096));
  app.add_option("--sse-keepalive-ms", a.sse_keepalive_ms, "keep-alive comment interval on idle streams")->check(CLI::Range(50, 600000));
  app.add_option("--preview-every", a.preview_every, "default preview interval in steps (0: none)")->check(CLI::Range(0, 1000));
  app.add_option("--job-timeout-s", a.job_timeout_s, "deadline per job from submission")->check(CLI::Range(1, 86400));
  app.add_option("--result-ttl-s", a.result_ttl_s, "how long finished jobs stay readable")->check(CLI::Range(1, 86400));
  app.add_option("--shutdown-grace-s", a.shutdown_grace_s, "on SIGINT/SIGTERM, time running jobs get to finish")->check(CLI::Range(0, 3600));
  app.add_option("--worker-id", a.worker_id, "id reported in /info (rbee: worker-<type>-<port>)")->envname("WORKER_ID");
  app.add_option("--queen-url", a.queen_url, "rbee queen: POST {url}/v1/worker-heartbeat every interval and on each status change")
      ->envname("QUEEN_URL");
  app.add_option("--callback-url", a.callback_url, "rbee hive registration: POST WorkerInfo here once the model is ready")
      ->envname("CALLBACK_URL");
  app.add_option("--heartbeat-interval", a.heartbeat_interval_s, "seconds between heartbeats to the queen (default 30)")
      ->envname("HEARTBEAT_INTERVAL_SECS")
      ->check(CLI::Range(0.05, 3600.0));
  app.add_flag("--quiet", a.quiet, "no request log");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (a.min_side > a.max_side) {
    std::cerr << "sd-worker serve: --min-side must not exceed --max-side\n";
    return 2;
  }

  WorkerConfig wc;
  wc.model = a.model;
  wc.model_aliases = a.aliases;
  if (a.model != "demo" && fs::is_directory(a.model)) {
    const fs::path folder = fs::path(a.model).lexically_normal();
    const std::string base = (folder.has_filename() ? folder : folder.parent_path()).filename().string();
    if (!base.empty() && base != a.model) wc.model_aliases.push_back(base);
  }
  wc.devices.clear();
  try {
    for (const auto& d : a.devices) {
      wc.devices.push_back(device_name(d));
      parse_device(wc.devices.back());  // fail now, not in the background loader
    }
    parse_dtype(a.dtype);
  } catch (const std::invalid_argument& e) {
    std::cerr << "sd-worker serve: " << e.what() << "\n";
    return 2;
  }
  wc.dtype = a.dtype;
  wc.queue_capacity = a.queue_size;
  wc.job_deadline = std::chrono::seconds(a.job_timeout_s);
  wc.result_ttl = std::chrono::seconds(a.result_ttl_s);
  wc.default_preview_every = a.preview_every;
  wc.limits.min_side = a.min_side;
  wc.limits.max_side = a.max_side;
  wc.limits.max_steps = a.max_steps;
  wc.limits.max_pixels = static_cast<int64_t>(a.max_side) * a.max_side;

  net::HttpConfig hc;
  hc.host = a.host;
  hc.port = a.port;
  hc.api_token = a.api_token;
  hc.cors_origins = a.cors_origins;
  hc.max_body_bytes = a.max_body_bytes;
  hc.threads = a.http_threads;
  hc.sse_keepalive = std::chrono::milliseconds(a.sse_keepalive_ms);
  hc.worker_id = a.worker_id;
  hc.log_requests = !a.quiet;
  hc.log = log_line;
  hc.jobs.model.name = a.model;
  hc.jobs.model.aliases = wc.model_aliases;
  hc.jobs.limits.min_side = a.min_side;
  hc.jobs.limits.max_side = a.max_side;
  hc.jobs.limits.max_pixels = static_cast<int64_t>(a.max_side) * a.max_side;
  hc.jobs.limits.max_steps = a.max_steps;
  hc.jobs.default_preview_every = a.preview_every;

  // Signals: a handler writes the signal number into a pipe that a watcher thread reads. This
  // works whatever threads libraries started before us (OpenBLAS starts its own at load time).
  if (pipe(g_signal_pipe) != 0) {
    std::cerr << "sd-worker serve: cannot create the signal pipe\n";
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that goes away must not kill the worker

  std::unique_ptr<Worker> worker = Worker::start(wc);
  worker->on_status_change([](const std::string& status) { log_line("worker: " + status); });
  net::HttpServer server(*worker, hc);
  int port = 0;
  try {
    port = server.bind();
  } catch (const std::exception& e) {
    std::cerr << "sd-worker serve: " << e.what() << "\n";
    worker->shutdown(std::chrono::milliseconds(0));
    return 1;
  }
  std::cout << "sd-worker serve: listening on http://" << a.host << ":" << port << " (model " << a.model << ", device "
            << wc.devices.front() << (a.api_token.empty() ? ", no auth" : ", bearer auth") << ")" << std::endl;

  net::HeartbeatConfig hb;
  hb.worker_id = a.worker_id;
  hb.model_id = a.model;
  hb.device = wc.devices.front();
  hb.port = port;
  hb.version = hc.version;
  hb.queen_url = a.queen_url;
  hb.callback_url = a.callback_url;
  hb.interval = std::chrono::milliseconds(static_cast<int64_t>(a.heartbeat_interval_s * 1000));
  hb.log = log_line;
  net::HeartbeatService heartbeat(*worker, hb);
  try {
    heartbeat.start();
  } catch (const std::invalid_argument& e) {
    std::cerr << "sd-worker serve: " << e.what() << "\n";
    worker->shutdown(std::chrono::milliseconds(0));
    return 2;
  }

  const auto grace = std::chrono::seconds(a.shutdown_grace_s);
  std::thread signal_thread([&] {
    unsigned char sig = 0;
    while (read(g_signal_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    if (sig == 0) return;  // woken by main: the server ended on its own
    log_line(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ": shutting down (grace " +
             std::to_string(a.shutdown_grace_s) + " s; send it again to exit now)");
    worker->shutdown(grace);
    server.stop();
  });
  server.run();
  const unsigned char wake = 0;
  if (g_signal_count.load() == 0) (void)!write(g_signal_pipe[1], &wake, 1);
  signal_thread.join();
  worker->shutdown(grace);  // no-op after a signal (already done)
  heartbeat.stop(std::chrono::milliseconds(3000));  // the last "stopped" heartbeat, bounded
  log_line("stopped");
  return 0;
}

}  // namespace sdw
