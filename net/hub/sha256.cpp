// SHA-256 with OpenSSL's EVP API (see sha256.h).
#include "net/hub/sha256.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace sdw::net {

void Sha256::Free::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) throw std::runtime_error("OpenSSL: EVP_MD_CTX_new failed");
  reset();
}

Sha256::~Sha256() = default;

void Sha256::reset() {
  if (EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL: SHA-256 init failed");
}

void Sha256::update(const void* data, size_t size) {
  if (size == 0) return;
  if (EVP_DigestUpdate(ctx_.get(), data, size) != 1) throw std::runtime_error("OpenSSL: SHA-256 update failed");
}

std::string Sha256::hex_digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), md, &n) != 1) throw std::runtime_error("OpenSSL: SHA-256 final failed");
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  reset();
  return out;
}

std::string sha256_hex(const std::string& bytes) {
  Sha256 h;
  h.update(bytes);
  return h.hex_digest();
}

size_t hash_file_prefix(Sha256& hash, const std::string& path, long long limit) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot read '" + path + "': " + std::strerror(errno));
  std::string buf(1 << 20, '\0');
  size_t total = 0;
  while (limit < 0 || static_cast<long long>(total) < limit) {
    size_t want = buf.size();
    if (limit >= 0) want = std::min(want, static_cast<size_t>(limit - static_cast<long long>(total)));
    const size_t n = std::fread(buf.data(), 1, want, f);
    if (n == 0) break;
    hash.update(buf.data(), n);
    total += n;
  }
  const bool failed = std::ferror(f);
  const int err = errno;
  std::fclose(f);
  if (failed) throw std::runtime_error("cannot read '" + path + "': " + std::strerror(err));
  return total;
}

}  // namespace sdw::net
