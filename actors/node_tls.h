// TLS between a front worker and its nodes (docs/distributed.md): plain C++ settings shared by
// `sd-worker node` and `serve/generate --stage`. With the shared secret the link runs over CAF's
// OpenSSL module: without certificate files CAF 0.17 uses anonymous ECDH (encrypted, but only the
// HMAC handshake authenticates the peer); with them both ends present a certificate and verify the
// other's against the CA file (CAF 0.17 always verifies in both directions). --insecure-plaintext
// keeps plain TCP.
#pragma once

#include <string>

namespace sdw {

struct NodeTlsFiles {
  std::string cert;  // PEM certificate (chain) this end presents
  std::string key;   // its PEM private key (unencrypted)
  std::string ca;    // PEM CA certificate(s) the other end's certificate must chain to (pinning)
  bool any() const { return !cert.empty() || !key.empty() || !ca.empty(); }
};

// "plaintext", "tls" (anonymous ECDH) or "tls+cert".
std::string node_transport(bool insecure_plaintext, const NodeTlsFiles& tls);

// Throws std::invalid_argument naming the flag: certificate files with --insecure-plaintext, some
// of --tls-cert/--tls-key/--tls-ca without the others, a file OpenSSL cannot load, or a key that
// is not the certificate's.
void check_node_tls(bool insecure_plaintext, const NodeTlsFiles& tls);

}  // namespace sdw
