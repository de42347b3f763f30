// The shared-secret handshake between a front worker and a node: both send a random nonce and
// each proves it holds the secret with an HMAC-SHA256 over both nonces and its role, so a peer
// without the secret can neither use a node nor pose as one. It authenticates; it does not
// encrypt (docs/distributed.md).
#pragma once

#include <string>

namespace sdw::actors {

// 32 random bytes (OpenSSL's RAND_bytes) as 64 hex digits.
std::string random_nonce();
// HMAC-SHA256(secret, role + "|" + node_nonce + "|" + front_nonce) as hex; role "front" or "node".
std::string handshake_mac(const std::string& secret, const std::string& role, const std::string& node_nonce,
                          const std::string& front_nonce);
// Constant-time comparison of two MACs.
bool same_mac(const std::string& a, const std::string& b);
// The secret in `path` (surrounding whitespace removed); throws std::runtime_error when the file
// cannot be read or holds fewer than 16 characters.
std::string read_secret_file(const std::string& path);

}  // namespace sdw::actors
