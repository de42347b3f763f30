// CAF's OpenSSL module for the node link (see node_tls_config.h).
#include "actors/node_tls_config.h"

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

#include <stdexcept>

#include "actors/ssl_error_queue.h"

namespace sdw::actors {

void load_node_transport(caf::actor_system_config& cfg, bool insecure_plaintext, const NodeTlsFiles& tls) {
  cfg.load<caf::io::middleman>();
  if (insecure_plaintext) return;
  cfg.load<caf::openssl::manager>();
  if (!ssl_error_queue_fix_active())  // one dead peer would drop every TLS link (ssl_error_queue.h)
    throw std::runtime_error("TLS between nodes: this program's SSL_read wrapper is not the one libcaf_openssl calls");
  // CAF 0.17 reads these when a TLS session starts; any of them set turns on certificate
  // verification (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, ciphers HIGH:!aNULL),
  // none set means anonymous ECDH.
  cfg.openssl_certificate = tls.cert;
  cfg.openssl_key = tls.key;
  cfg.openssl_cafile = tls.ca;
  cfg.openssl_passphrase = read_key_passphrase(tls);  // an encrypted key's (CAF's PEM callback)
}

}  // namespace sdw::actors
