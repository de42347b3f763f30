// Loads CAF's OpenSSL module into an actor system configuration for the node link (node_tls.h):
// the middleman plus caf::openssl::manager, and the certificate files as CAF's openssl settings.
// Used by `sd-worker node` (node.cpp) and by the front's actor system (worker.cpp).
#pragma once

#include <caf/actor_system_config.hpp>

#include "actors/node_tls.h"

namespace sdw::actors {

// Loads the middleman; with `insecure_plaintext` false also the OpenSSL manager and `tls`'s files.
void load_node_transport(caf::actor_system_config& cfg, bool insecure_plaintext, const NodeTlsFiles& tls);

}  // namespace sdw::actors
