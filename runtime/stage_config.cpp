// The remote-stage settings from their flags (see cli_stages.h).
#include <stdexcept>

#include "actors/node_auth.h"
#include "runtime/cli_stages.h"

namespace sdw {

RemoteStagesConfig remote_stages_config(const StageCliOptions& o) {
  RemoteStagesConfig c;
  for (const auto& s : o.stages) c.nodes.push_back(parse_stage_node(s));
  c.insecure_plaintext = o.insecure_plaintext;
  c.heartbeat_interval = std::chrono::milliseconds(o.heartbeat_ms);
  c.heartbeat_timeout = std::chrono::milliseconds(o.heartbeat_timeout_ms);
  if (c.nodes.empty()) {
    if (!o.secret_file.empty() || o.insecure_plaintext || o.tls.any())
      throw std::invalid_argument("--secret, --tls-cert/--tls-key/--tls-ca and --insecure-plaintext need --stage");
    return c;
  }
  if (o.insecure_plaintext && !o.secret_file.empty())
    throw std::invalid_argument("--secret and --insecure-plaintext exclude each other");
  if (!o.insecure_plaintext && o.secret_file.empty())
    throw std::invalid_argument("--stage needs --secret FILE (the nodes' shared secret), or --insecure-plaintext");
  check_node_tls(o.insecure_plaintext, o.tls);
  c.tls = o.tls;
  if (!o.insecure_plaintext) c.secret = actors::read_secret_file(o.secret_file);
  return c;
}

}  // namespace sdw
