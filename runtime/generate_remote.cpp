// generate with remote stages (see generate_remote.h).
#include "runtime/generate_remote.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "actors/worker.h"

namespace sdw {
namespace {

// generate's naming: out.png, or out-0.png, out-1.png, ... for several images.
std::string numbered(const std::string& path, int i, int n) {
  if (n <= 1) return path;
  const std::filesystem::path p(path);
  return (p.parent_path() / (p.stem().string() + "-" + std::to_string(i) + p.extension().string())).string();
}

}  // namespace

int generate_on_nodes(const RemoteGenerate& g) {
  WorkerConfig wc;
  static_cast<ModelLoadSettings&>(wc) = g.load;
  wc.devices = {g.device};
  wc.remote = remote_stages_config(g.stages);
  wc.remote_status = std::make_shared<RemoteStatus>();
  wc.limits.min_side = 8;
  std::unique_ptr<Worker> worker = Worker::start(wc);
  if (!worker->wait_ready(std::chrono::minutes(10))) {
    std::cerr << "sd-worker generate: the model did not load: " << worker->health().reason << "\n";
    return 1;
  }
  // Bounded wait for the node links to settle (up, down or refused).
  for (int i = 0; i < 200; ++i) {
    bool settled = true;
    for (const auto& n : wc.remote_status->snapshot()) settled = settled && n.state != "connecting";
    if (settled && wc.remote_status->snapshot().size() == wc.remote.nodes.size()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (const auto& n : wc.remote_status->snapshot())
    if (n.state != "up")
      std::cerr << "sd-worker generate: the " << n.stage << " node " << n.address << " is " << n.state << " ("
                << n.reason << "): that stage runs here\n";
  JobSubmission job;
  job.request = g.request;
  job.output = OutputFormat{g.jpeg ? "jpeg" : "png", g.jpeg_quality};
  const std::string id = worker->submit(std::move(job));
  auto stream = worker->subscribe(id);
  JobEvent ev;
  while (!stream->finished()) {
    if (!stream->next(ev, std::chrono::seconds(1)) || !ev.terminal()) continue;
    if (ev.type != JobEvent::Type::complete) {
      std::cerr << "sd-worker generate: the job " << (ev.type == JobEvent::Type::cancelled ? "was cancelled" : "failed")
                << ": " << ev.message << "\n";
      return 1;
    }
    for (size_t i = 0; i < ev.images.size(); ++i) {
      const std::string path = numbered(g.output, static_cast<int>(i), static_cast<int>(ev.images.size()));
      std::ofstream(path, std::ios::binary) << ev.images[i].bytes;
      std::cout << "wrote " << path << " (" << ev.images[i].width << "x" << ev.images[i].height << ")\n";
    }
    std::cout << "seed: " << ev.seed << "\ntimings: encode " << ev.encode_ms << " ms, denoise " << ev.denoise_ms
              << " ms, decode " << ev.decode_ms << " ms\n";
    for (const auto& n : wc.remote_status->snapshot())
      std::cout << "stage " << n.stage << ": node " << n.address << " " << n.state << ", " << n.requests
                << " request(s), " << n.bytes_sent << " bytes sent, " << n.bytes_received << " received\n";
    return 0;
  }
  std::cerr << "sd-worker generate: the job's events ended without a result\n";
  return 1;
}

}  // namespace sdw
