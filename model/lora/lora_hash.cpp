// A1111's LoRA hashes (see lora_hash.h): SHA-256 through OpenSSL's EVP API.
#include "model/lora/lora_hash.h"

#include <openssl/evp.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "model/lora/lora_file.h"

namespace sdw {
namespace {

std::string hex(const unsigned char* bytes, unsigned int n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out.push_back(digits[bytes[i] >> 4]);
    out.push_back(digits[bytes[i] & 15]);
  }
  return out;
}

std::string hash_data_section(const std::string& path, uint64_t size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw LoraError("LoRA file '" + path + "': cannot be read for hashing");
  unsigned char head[8];
  in.read(reinterpret_cast<char*>(head), 8);
  if (in.gcount() != 8) throw LoraError("LoRA file '" + path + "' is too short to be safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | head[i];
  if (n > size - 8) throw LoraError("LoRA file '" + path + "': header length " + std::to_string(n) + " exceeds the file");
  in.seekg(static_cast<std::streamoff>(8 + n));
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw LoraError("OpenSSL: SHA-256 init failed");
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0 && EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount())) != 1)
      throw LoraError("OpenSSL: SHA-256 update failed");
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1) throw LoraError("OpenSSL: SHA-256 final failed");
  return hex(digest, len);
}

}  // namespace

std::string lora_addnet_hash(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::tuple<std::string, int64_t, uint64_t>, std::string> known;
  const FileStamp s = file_stamp(path);
  const auto key = std::make_tuple(s.path, s.mtime_ns, s.size);
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = known.find(key);
    if (it != known.end()) return it->second;
  }
  std::string h = hash_data_section(path, s.size < 8 ? 8 : s.size);
  std::lock_guard<std::mutex> lock(mutex);
  known[key] = h;
  return h;
}

std::string lora_short_hash(const std::string& path) { return lora_addnet_hash(path).substr(0, 12); }

std::string a1111_lora_hashes(const std::vector<std::pair<std::string, std::string>>& name_and_hash) {
  std::string out;
  for (const auto& [name, hash] : name_and_hash) {
    std::string alias;
    for (char c : name)
      if (c != ':' && c != ',') alias.push_back(c);
    if (alias.empty() || hash.empty()) continue;
    out += (out.empty() ? "" : ", ") + alias + ": " + hash;
  }
  return out;
}

}  // namespace sdw
