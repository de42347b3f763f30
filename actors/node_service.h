// `sd-worker node`: a process that loads a model on one device and serves some of its pipeline
// stages (encoder, denoiser, decoder) to front workers through CAF's middleman (node.h is the
// published actor). Plain C++ for runtime/; the implementation in actors/node.cpp owns the actor
// system.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/model_load_settings.h"
#include "actors/node_tls.h"

namespace sdw {

// The model and how it is loaded and run (ModelLoadSettings: dtype, single-file configs, speed and
// memory switches, SD3's T5, embeddings, ControlNets) are the front worker's settings.
struct NodeOptions : ModelLoadSettings {
  std::string host = "127.0.0.1";  // the address to listen on ("0.0.0.0": all)
  uint16_t port = 0;               // 0: any free port (the printed "listening" line tells which)
  std::string device = "cpu";
  std::vector<std::string> stages{"encoder", "denoiser", "decoder"};
  std::string secret;  // empty only with insecure_plaintext
  bool insecure_plaintext = false;  // plain TCP, no handshake; else TLS (node_tls.h)
  NodeTlsFiles tls;                 // --tls-cert/--tls-key/--tls-ca (none: anonymous-ECDH TLS)
  std::chrono::milliseconds stage_timeout{10 * 60 * 1000};
  // A model name that is neither "demo" nor a path (a Hub repo id, a catalog version) -> a local
  // folder (WorkerConfig::resolve_model); empty: names are paths.
  std::function<std::string(const std::string& reference, std::function<void(const std::string& line)> progress)>
      resolve_model;
};

class Node {
 public:
  virtual ~Node() = default;
  // Loads the model and publishes the node actor; throws std::exception (with a reason) when the
  // options are invalid, the model cannot be loaded or the address cannot be bound.
  static std::unique_ptr<Node> start(const NodeOptions& options);
  virtual uint16_t port() const = 0;
  virtual std::string describe() const = 0;  // model, label, family, dtype, device, stages, transport
};

}  // namespace sdw
