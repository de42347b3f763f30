// `sd-worker serve` (see cli_serve.h): settings (serve_options.h), structured logs (log.h), the
// Worker, the HTTP server, rbee heartbeats, and signal handling: the first SIGINT/SIGTERM shuts the
// worker down with a grace period and then stops the server; a second one exits at once.
#include "runtime/cli_serve.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include "actors/worker.h"
#include "model/nn/device_names.h"
#include "model/pipeline/sd_model.h"
#include "net/rbee/heartbeat.h"
#include "net/http/http_server.h"
#include "runtime/cli_memory.h"
#include "runtime/cpu_threads.h"
#include "runtime/hub_asset.h"
#include "runtime/load_settings.h"
#include "runtime/log.h"
#include "runtime/model_source.h"
#include "runtime/serve_options.h"
#include "runtime/served_controlnets.h"
#include "runtime/ui_location.h"

namespace fs = std::filesystem;

namespace sdw {
namespace {

// After the worker has shut down (every job ended), the longest the server waits for open SSE
// streams to send their last event and marker before it closes the connections.
constexpr std::chrono::milliseconds kStreamDrain{2000};

int g_signal_pipe[2] = {-1, -1};
std::atomic<int> g_signal_count{0};

// Async-signal-safe: the first signal goes to the watcher thread, a second one exits at once.
void on_signal(int sig) {
  if (g_signal_count.fetch_add(1) > 0) _exit(128 + sig);
  const unsigned char byte = static_cast<unsigned char>(sig);
  (void)!write(g_signal_pipe[1], &byte, 1);
}

// rbee-hive passes `--device <n>`: a bare index means that CUDA device where there is one.
std::string device_name(const std::string& d, Logger& log) {
  if (d.empty() || d.find_first_not_of("0123456789") != std::string::npos) return d;
  if (at::hasCUDA()) return "cuda:" + d;
  log.warn("sd-worker", "device", "device '" + d + "' given as an index but this build has no CUDA: using cpu", d);
  return "cpu";
}

}  // namespace

int run_serve(int argc, char** argv, BinaryVariant variant) {
  ServeOptions a;
  const ServeParse parsed = parse_serve_options(argc, argv, variant, a);
  if (!parsed.run) return parsed.exit_code;
  std::string unknown_format;
  Logger logger(log_format_from_env(&unknown_format));
  if (!unknown_format.empty())
    logger.warn("sd-worker", "config", "LLORCH_LOG_FORMAT='" + unknown_format + "' is not 'text' or 'json': using text");
  for (const auto& note : a.notes) logger.info("sd-worker", "config", note);
  if (!a.config_file.empty()) logger.info("sd-worker", "config", "settings read from " + a.config_file, a.config_file);

  WorkerConfig wc;
  wc.resolve_model = make_hub_resolver(a.dtype);  // Hub repo ids and catalog versions (hub_model.h)
  wc.model = a.model;
  configure_cpu_threads(a.model == "demo");
  wc.model_aliases = a.aliases;
  try {
    fill_load_settings(a.load, wc);  // single-file configs, speed and memory switches, T5, embeddings, ControlNets
  } catch (const std::invalid_argument& e) {
    std::cerr << "sd-worker serve: " << e.what() << "\n";
    return 2;
  }
  wc.refiner = a.refiner;
  if (a.model != "demo" && fs::is_directory(a.model)) {
    const fs::path folder = fs::path(a.model).lexically_normal();
    const std::string base = (folder.has_filename() ? folder : folder.parent_path()).filename().string();
    if (!base.empty() && base != a.model) wc.model_aliases.push_back(base);
  }
  wc.devices.clear();
  try {
    for (const auto& d : a.devices) {
      wc.devices.push_back(device_name(d, logger));
      parse_device(wc.devices.back());  // fail now, not in the background loader
    }
    for (const auto& d : wc.devices) {
      check_dtype_choice(parse_dtype_choice(a.dtype), parse_device(d));
      check_offload_device(wc.memory, parse_device(d));
    }
    if (!wc.t5_device.empty()) wc.t5_device = device_name(wc.t5_device, logger);
    if (!wc.t5_device.empty()) parse_device(wc.t5_device);
  } catch (const std::invalid_argument& e) {
    std::cerr << "sd-worker serve: " << e.what() << "\n";
    return 2;
  }
  try {
    wc.remote = remote_stages_config(a.stages);
  } catch (const std::exception& e) {
    std::cerr << "sd-worker serve: " << e.what() << "\n";
    return 2;
  }
  wc.remote_status = std::make_shared<RemoteStatus>();
  wc.dtype = a.dtype;
  wc.queue_capacity = a.queue_size;
  wc.max_batch = a.max_batch;
  wc.batch_stats = std::make_shared<BatchStats>();
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
  hc.max_connections = a.max_connections;
  hc.max_connections_per_client = a.max_connections_per_client;
  hc.max_streams = a.max_streams;
  hc.header_timeout_s = a.header_timeout_s;
  hc.read_timeout_s = a.request_timeout_s;
  hc.sse_keepalive = std::chrono::milliseconds(a.sse_keepalive_ms);
  hc.worker_id = a.worker_id;
  hc.log_requests = !a.quiet;
  hc.log = logger.line_sink("http", "request");
  hc.jobs.model.name = a.model;
  hc.jobs.model.aliases = wc.model_aliases;
  hc.jobs.limits.min_side = a.min_side;
  hc.jobs.limits.max_side = a.max_side;
  hc.jobs.limits.max_pixels = static_cast<int64_t>(a.max_side) * a.max_side;
  hc.jobs.limits.max_steps = a.max_steps;
  hc.jobs.default_preview_every = a.preview_every;
  hc.embeddings = wc.embeddings;
  hc.remote_status = wc.remote_status;
  hc.batch_stats = wc.batch_stats;
  if (a.hub_loras) {
    hc.jobs.resolve_hub_lora = [&logger](const std::string& reference) {
      logger.info("loras", "hub", "LoRA " + reference + ": from the Hugging Face Hub cache or a download", reference);
      return resolve_hub_file(reference, kMaxHubLoraBytes, {},
                              [&logger, reference](const std::string& line) { logger.info("loras", "hub", line, reference); });
    };
  }
  hc.jobs.controlnets = served_controlnets(a.load.controlnets);  // checked by fill_load_settings above
  hc.jobs.lora_folders = std::make_shared<const AssetFolders>(
      std::vector<std::filesystem::path>(a.lora_dirs.begin(), a.lora_dirs.end()), std::vector<std::string>{".safetensors"}, "LoRA");
  hc.serve_ui = !a.no_ui;
  const UiLocation ui = a.no_ui ? UiLocation{} : find_ui_dir(a.ui_dir);
  hc.ui_dir = ui.dir;

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
  worker->on_lifecycle([&logger](const LifecycleEvent& e) { logger.write(e); });
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
  logger.info("http", "listen",
              "listening on http://" + a.host + ":" + std::to_string(port) + " (model " + a.model + ", device " +
                  wc.devices.front() + ", dtype " + wc.dtype + ", " + std::to_string(at::get_num_threads()) +
                  " CPU threads, CUDA graphs " + (wc.cuda_graphs ? "on" : "off") +
                  (resolve_channels_last(wc.channels_last, parse_device(wc.devices.front())) ? ", channels_last UNet" : "") + ")",
              a.host + ":" + std::to_string(port));

  logger.info("worker", "data", "data files (CLIP vocabularies, configs) from " + data_dir(), data_dir());
  if (!a.no_ui && ui.built)
    logger.info("http", "ui", "web UI at http://" + a.host + ":" + std::to_string(port) + "/ui/ (files from " + ui.dir + ")", ui.dir);
  else if (!a.no_ui)
    logger.warn("http", "ui", "web UI not built (looked in " + ui.searched + "): /ui/ answers 404 until `npm ci && npm run build` runs in ui/ (docs/ui.md)");

  net::HeartbeatConfig hb;
  hb.worker_id = a.worker_id;
  hb.model_id = a.model;
  hb.device = wc.devices.front();
  hb.port = port;
  hb.version = hc.version;
  hb.queen_url = a.queen_url;
  hb.callback_url = a.callback_url;
  hb.interval = std::chrono::milliseconds(static_cast<int64_t>(a.heartbeat_interval_s * 1000));
  hb.log = logger.line_sink("heartbeat", "heartbeat");
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
    logger.info("sd-worker", "shutdown",
                std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ": shutting down (grace " +
                    std::to_string(a.shutdown_grace_s) + " s; send it again to exit now)");
    worker->shutdown(grace);
    server.stop(kStreamDrain);
  });
  server.run();
  const unsigned char wake = 0;
  if (g_signal_count.load() == 0) (void)!write(g_signal_pipe[1], &wake, 1);
  signal_thread.join();
  worker->shutdown(grace);  // no-op after a signal (already done)
  heartbeat.stop(std::chrono::milliseconds(3000));  // the last "stopped" heartbeat, bounded
  logger.info("sd-worker", "stopped", "stopped");
  return 0;
}

}  // namespace sdw
