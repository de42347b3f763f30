// Remote-stage flags (see cli_stages.h); the settings they make are in stage_config.cpp.
#include "runtime/cli_stages.h"

#include <CLI/CLI.hpp>


namespace sdw {

void add_tls_options(CLI::App& app, NodeTlsFiles& tls, const std::string& peers) {
  app.add_option("--tls-cert", tls.cert,
                 "PEM certificate this process presents on the node link (with --secret; needs --tls-key and "
                 "--tls-ca; without the three the link is TLS with anonymous ECDH)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", tls.key, "the PEM private key of --tls-cert")->check(CLI::ExistingFile);
  app.add_option("--tls-key-passphrase-file", tls.key_passphrase_file,
                 "file holding the passphrase of an encrypted --tls-key (its first line)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-ca", tls.ca, "PEM CA certificate(s) " + peers + " certificates must chain to (pinning)")
      ->check(CLI::ExistingFile);
}

void add_stage_options(CLI::App& app, StageCliOptions& o) {
  app.add_option("--stage", o.stages,
                 "run a stage on a node started with `sd-worker node`: STAGE=HOST:PORT, STAGE one of encoder, "
                 "denoiser, decoder (repeatable; several nodes for one stage are replicas, the least-loaded is "
                 "used; a stage without a node, or whose nodes are all down, runs in this process)");
  app.add_option("--secret", o.secret_file, "file holding the shared secret the nodes were started with (--stage)")
      ->check(CLI::ExistingFile);
  app.add_flag("--insecure-plaintext", o.insecure_plaintext,
               "use --stage nodes over plain TCP without the shared-secret handshake (loopback tests only)");
  add_tls_options(app, o.tls, "the nodes'");
  app.add_option("--node-heartbeat-ms", o.heartbeat_ms, "how often a --stage node is pinged")
      ->check(CLI::Range(50, 60000));
  app.add_option("--node-heartbeat-timeout-ms", o.heartbeat_timeout_ms,
                 "a --stage node that answers no ping for this long is down; its jobs fail")
      ->check(CLI::Range(100, 600000));
}

}  // namespace sdw
