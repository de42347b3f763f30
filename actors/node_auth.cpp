// HMAC handshake helpers (see node_auth.h), with OpenSSL's libcrypto.
#include "actors/node_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sdw::actors {
namespace {

std::string hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

}  // namespace

std::string random_nonce() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed: no random nonce");
  return hex(bytes, sizeof bytes);
}

std::string handshake_mac(const std::string& secret, const std::string& role, const std::string& node_nonce,
                          const std::string& front_nonce) {
  const std::string text = role + "|" + node_nonce + "|" + front_nonce;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(text.data()), text.size(), out, &len))
    throw std::runtime_error("HMAC-SHA256 failed");
  return hex(out, len);
}

bool same_mac(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string read_secret_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read the secret file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  const auto first = s.find_first_not_of(" \t\r\n");
  const auto last = s.find_last_not_of(" \t\r\n");
  s = first == std::string::npos ? "" : s.substr(first, last - first + 1);
  if (s.size() < 16) throw std::runtime_error("the secret in '" + path + "' is shorter than 16 characters");
  return s;
}

}  // namespace sdw::actors
