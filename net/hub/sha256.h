// SHA-256 over streamed bytes (OpenSSL's EVP API), as hex: the Hub's X-Linked-Etag of an LFS file
// is the SHA-256 of its content, which the hub client checks before a download enters the cache.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

struct evp_md_ctx_st;

namespace sdw::net {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, size_t size);
  void update(const std::string& bytes) { update(bytes.data(), bytes.size()); }
  // Lower-case hex of the digest; the object starts over afterwards.
  std::string hex_digest();
  void reset();

 private:
  struct Free {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, Free> ctx_;
};

std::string sha256_hex(const std::string& bytes);
// Feeds the first `limit` bytes of `path` (all of it when limit < 0) into `hash`; returns how many
// bytes were read. Throws std::runtime_error naming the path when it cannot be read.
size_t hash_file_prefix(Sha256& hash, const std::string& path, long long limit = -1);

}  // namespace sdw::net
