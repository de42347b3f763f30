// `sd-worker node` (see cli_node.h).
#include "runtime/cli_node.h"

#include <CLI/CLI.hpp>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "actors/node_auth.h"
#include "actors/node_service.h"
#include "model/nn/device_names.h"
#include "runtime/cli_memory.h"
#include "runtime/cli_stages.h"
#include "runtime/cpu_threads.h"
#include "runtime/hub_model.h"
#include "runtime/load_settings.h"
#include "runtime/settings_file.h"

namespace sdw {
namespace {

int g_node_pipe[2] = {-1, -1};

void on_node_signal(int sig) {
  char byte = static_cast<char>(sig);
  (void)!write(g_node_pipe[1], &byte, 1);
}

std::vector<std::string> split_csv(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int run_node(int argc, char** argv) {
  NodeOptions o;
  std::string listen = "127.0.0.1:0", stages = "encoder,denoiser,decoder", secret_file;
  int stage_timeout_s = 600;
  CLI::App app{"Serve pipeline stages of one model on one device to front workers (`sd-worker serve --stage "
               "STAGE=HOST:PORT`), through CAF's middleman.",
               "sd-worker node"};
  app.add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free port; default 127.0.0.1:0)");
  app.add_option("--model", o.model,
                 "the front worker's model: 'demo', a catalog version, a Hugging Face repo id (downloaded into the Hub "
                 "cache), a diffusers folder or a single-file .safetensors checkpoint");
  app.add_option("--device", o.device, "cpu | cuda:N | mps");
  app.add_option("--dtype", o.dtype,
                 "fp32 | fp16 | bf16 (the front worker's) | fp8 (CUDA sm_89+: fp16 with the UNet's Linear layers in fp8; "
                 "the front's fp16 model)")
      ->check(CLI::IsMember({"fp32", "fp16", "bf16", "fp8"}));
  // How the model is loaded and run: the same flags as serve's (single-file configs, speed and
  // memory switches, SD3's T5, embeddings for the encoder, ControlNets for the denoiser).
  ModelLoadCli load;
  std::vector<std::string> bool_flags = add_model_load_options(app, load);
  bool_flags.push_back("insecure-plaintext");
  app.add_option("--stages", stages, "the stages to serve, comma-separated: encoder,denoiser,decoder");
  app.add_option("--secret", secret_file, "file holding the shared secret front workers must prove")->check(CLI::ExistingFile);
  app.add_flag("--insecure-plaintext", o.insecure_plaintext,
               "serve over plain TCP without the shared-secret handshake (loopback tests)");
  add_tls_options(app, o.tls, "the front workers'");
  app.add_option("--stage-timeout-s", stage_timeout_s, "longest one stage request may run")->check(CLI::Range(1, 86400));
  std::string config_file;
  app.add_option("--config", config_file,
                 "JSON settings file (keys are the flag names, e.g. {\"listen\": \"0.0.0.0:7900\", \"stages\": "
                 "\"denoiser\"}; flags on the command line win)")
      ->envname("SD_WORKER_NODE_CONFIG");
  std::vector<std::string> args(argv, argv + argc);
  try {
    const std::string path = find_config_path(argc, argv, "SD_WORKER_NODE_CONFIG");
    if (!path.empty())
      for (auto& extra : config_arguments(path, app, std::set<std::string>(bool_flags.begin(), bool_flags.end()), argc, argv))
        args.push_back(std::move(extra));
  } catch (const std::invalid_argument& e) {
    std::cerr << "sd-worker node: " << e.what() << "\n";
    return 2;
  }
  std::vector<char*> ptrs;
  for (auto& a : args) ptrs.push_back(a.data());
  try {
    app.parse(static_cast<int>(ptrs.size()), ptrs.data());
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help (0) or the error
    return rc == 0 ? 0 : 2;
  }
  try {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument("--listen wants HOST:PORT, got '" + listen + "'");
    o.host = listen.substr(0, colon);
    const int port = std::stoi(listen.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::invalid_argument("--listen: port out of range");
    o.port = static_cast<uint16_t>(port);
    o.stages = split_csv(stages);
    o.stage_timeout = std::chrono::seconds(stage_timeout_s);
    if (!secret_file.empty() && o.insecure_plaintext)
      throw std::invalid_argument("--secret and --insecure-plaintext exclude each other");
    if (!secret_file.empty()) o.secret = actors::read_secret_file(secret_file);
    check_node_tls(o.insecure_plaintext, o.tls);
    fill_load_settings(load, o);
    o.resolve_model = make_hub_resolver(o.dtype);  // Hub repo ids and catalog versions (hub_model.h)
    const at::Device device = parse_device(o.device);
    check_dtype_choice(parse_dtype_choice(o.dtype), device);
    check_offload_device(o.memory, device);
    if (!o.t5_device.empty()) parse_device(o.t5_device);
  } catch (const std::exception& e) {
    std::cerr << "sd-worker node: " << e.what() << "\n";
    return 2;
  }
  configure_cpu_threads(o.model == "demo");
  if (pipe(g_node_pipe) != 0) {
    std::cerr << "sd-worker node: cannot create the signal pipe\n";
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = on_node_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<Node> node;
  try {
    node = Node::start(o);
  } catch (const std::exception& e) {
    std::cerr << "sd-worker node: " << e.what() << "\n";
    return 1;
  }
  std::cout << "sd-worker node: listening on " << o.host << ":" << node->port() << " (" << node->describe() << ")"
            << std::endl;
  char byte = 0;
  while (read(g_node_pipe[0], &byte, 1) < 0 && errno == EINTR) {
  }
  std::cerr << "sd-worker node: stopping (signal " << static_cast<int>(byte) << ")" << std::endl;
  node.reset();
  return 0;
}

}  // namespace sdw
