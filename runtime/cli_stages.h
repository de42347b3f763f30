// The front worker's remote-stage flags (serve; docs/distributed.md): --stage STAGE=HOST:PORT
// (repeatable; several for one stage are replicas), --secret FILE (the shared secret of the node
// handshake), --insecure-plaintext (nodes without any authentication, for loopback tests), and
// the heartbeat settings.
#pragma once

#include <string>
#include <vector>

#include "actors/remote_types.h"

namespace CLI {
class App;
}

namespace sdw {

struct StageCliOptions {
  std::vector<std::string> stages;  // STAGE=HOST:PORT
  std::string secret_file;
  bool insecure_plaintext = false;
  int heartbeat_ms = 500, heartbeat_timeout_ms = 2000;
};

void add_stage_options(CLI::App& app, StageCliOptions& options);

// The checked settings (the secret read from its file); throws std::invalid_argument or
// std::runtime_error (an unreadable secret file) naming the flag.
RemoteStagesConfig remote_stages_config(const StageCliOptions& options);

}  // namespace sdw
