// TLS settings between nodes (see node_tls.h).
#include "actors/node_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>

namespace sdw {
namespace {

std::string ssl_error() {
  char buf[256] = "unknown error";
  if (const unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

// OpenSSL's PEM password callback: the passphrase (userdata) into buf; none: 0 (no terminal prompt).
int passphrase_callback(char* buf, int size, int, void* userdata) {
  const auto* passphrase = static_cast<const std::string*>(userdata);
  if (!passphrase || passphrase->empty() || size <= 0) return 0;
  const int n = std::min(size, static_cast<int>(passphrase->size()));
  std::memcpy(buf, passphrase->data(), static_cast<size_t>(n));
  return n;
}

}  // namespace

std::string read_key_passphrase(const NodeTlsFiles& tls) {
  if (tls.key_passphrase_file.empty()) return "";
  std::ifstream in(tls.key_passphrase_file);
  if (!in) throw std::invalid_argument("--tls-key-passphrase-file: cannot read '" + tls.key_passphrase_file + "'");
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) throw std::invalid_argument("--tls-key-passphrase-file: '" + tls.key_passphrase_file + "' holds no passphrase");
  return line;
}

std::string node_transport(bool insecure_plaintext, const NodeTlsFiles& tls) {
  if (insecure_plaintext) return "plaintext";
  return tls.any() ? "tls+cert" : "tls";
}

void check_node_tls(bool insecure_plaintext, const NodeTlsFiles& tls) {
  if (!tls.any()) return;
  if (insecure_plaintext)
    throw std::invalid_argument("--tls-cert/--tls-key/--tls-ca need --secret (they exclude --insecure-plaintext)");
  if (tls.cert.empty() || tls.key.empty() || tls.ca.empty())
    throw std::invalid_argument(
        "--tls-cert, --tls-key and --tls-ca go together (CAF's TLS verifies certificates in both directions: "
        "every node and front presents one and checks the other's against the CA; --tls-key-passphrase-file "
        "needs them too)");
  const std::string passphrase = read_key_passphrase(tls);
  // What CAF would otherwise find out inside its multiplexer at the first connection (where its
  // error aborts the process): the files load, the key matches the certificate, the CA parses.
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_method()), SSL_CTX_free);
  if (!ctx) throw std::runtime_error("cannot create an OpenSSL context: " + ssl_error());
  SSL_CTX_set_default_passwd_cb(ctx.get(), passphrase_callback);  // never a terminal prompt
  SSL_CTX_set_default_passwd_cb_userdata(ctx.get(), const_cast<std::string*>(&passphrase));
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert.c_str()) != 1)
    throw std::invalid_argument("--tls-cert: cannot load '" + tls.cert + "': " + ssl_error());
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key.c_str(), SSL_FILETYPE_PEM) != 1)
    throw std::invalid_argument("--tls-key: cannot load '" + tls.key + "' (" +
                                (passphrase.empty() ? "a PEM key; an encrypted one needs --tls-key-passphrase-file"
                                                    : "with the passphrase of --tls-key-passphrase-file") +
                                "): " + ssl_error());
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    throw std::invalid_argument("--tls-key: '" + tls.key + "' is not the key of --tls-cert '" + tls.cert + "'");
  if (SSL_CTX_load_verify_locations(ctx.get(), tls.ca.c_str(), nullptr) != 1)
    throw std::invalid_argument("--tls-ca: cannot load '" + tls.ca + "': " + ssl_error());
}

}  // namespace sdw
