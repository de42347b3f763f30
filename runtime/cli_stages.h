// The front worker's remote-stage flags (serve; docs/distributed.md): --stage STAGE=HOST:PORT
// (repeatable; several for one stage are replicas), --secret FILE (the shared secret of the node
// handshake, over TLS), --tls-cert/--tls-key/--tls-ca (certificates verified both ways),
// --insecure-plaintext (plain TCP without any authentication, for loopback tests), and the
// heartbeat settings.
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
  NodeTlsFiles tls;  // --tls-cert/--tls-key/--tls-ca
  int heartbeat_ms = 500, heartbeat_timeout_ms = 2000;
};

void add_stage_options(CLI::App& app, StageCliOptions& options);
// --tls-cert, --tls-key, --tls-ca (also `sd-worker node`'s); `peers` names whose certificates --tls-ca checks.
void add_tls_options(CLI::App& app, NodeTlsFiles& tls, const std::string& peers);

// The checked settings (the secret read from its file); throws std::invalid_argument or
// std::runtime_error (an unreadable secret file) naming the flag.
RemoteStagesConfig remote_stages_config(const StageCliOptions& options);

}  // namespace sdw
