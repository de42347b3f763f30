// `sd-worker node`: a process that loads a model on one device and serves some of its pipeline
// stages (encoder, denoiser, decoder) to front workers through CAF's middleman (node.h is the
// published actor). Plain C++ for runtime/; the implementation in actors/node.cpp owns the actor
// system.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/node_tls.h"

namespace sdw {

struct NodeOptions {
  std::string host = "127.0.0.1";  // the address to listen on ("0.0.0.0": all)
  uint16_t port = 0;               // 0: any free port (the printed "listening" line tells which)
  std::string model = "demo";
  std::string device = "cpu";
  std::string dtype = "fp32";
  std::vector<std::string> stages{"encoder", "denoiser", "decoder"};
  std::string secret;  // empty only with insecure_plaintext
  bool insecure_plaintext = false;  // plain TCP, no handshake; else TLS (node_tls.h)
  NodeTlsFiles tls;                 // --tls-cert/--tls-key/--tls-ca (none: anonymous-ECDH TLS)
  std::chrono::milliseconds stage_timeout{10 * 60 * 1000};
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
