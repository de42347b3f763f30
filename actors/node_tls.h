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
  std::string key;   // its PEM private key (encrypted: with key_passphrase_file)
  std::string ca;    // PEM CA certificate(s) the other end's certificate must chain to (pinning)
  // A file holding the passphrase of an encrypted `key` (its first line; kept off the command
  // line, as --secret); "": the key is not encrypted.
  std::string key_passphrase_file;
  bool any() const { return !cert.empty() || !key.empty() || !ca.empty() || !key_passphrase_file.empty(); }
};

// The passphrase in tls.key_passphrase_file ("" without one). Throws std::invalid_argument when
// the file cannot be read or holds no passphrase.
std::string read_key_passphrase(const NodeTlsFiles& tls);

// "plaintext", "tls" (anonymous ECDH) or "tls+cert".
std::string node_transport(bool insecure_plaintext, const NodeTlsFiles& tls);

// Throws std::invalid_argument naming the flag: certificate files with --insecure-plaintext, some
// of --tls-cert/--tls-key/--tls-ca without the others (or --tls-key-passphrase-file without
// them), a file OpenSSL cannot load (an encrypted key without its passphrase, or with a wrong
// one), or a key that is not the certificate's.
void check_node_tls(bool insecure_plaintext, const NodeTlsFiles& tls);

}  // namespace sdw
