// Signed image URLs (see image_urls.h).
#include "net/http/image_urls.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <random>

#include "net/http/operations.h"

namespace sdw::net {
namespace {

const std::array<unsigned char, 32>& signing_key() {
  static const std::array<unsigned char, 32> key = [] {
    std::array<unsigned char, 32> k{};
    std::random_device rd;  // /dev/urandom on Linux
    for (auto& b : k) b = static_cast<unsigned char>(rd());
    return k;
  }();
  return key;
}

std::string signature(const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const auto& key = signing_key();
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

std::string signed_part(const std::string& job_id, int index, const std::string& extension) {
  return job_id + "." + std::to_string(index) + "." + extension;
}

}  // namespace

std::string signed_image_path(const std::string& job_id, int index, const std::string& extension) {
  const std::string part = signed_part(job_id, index, extension);
  return "/v1/images/files/" + job_id + "." + std::to_string(index) + "." + signature(part) + "." + extension;
}

std::optional<ImageFileRef> verify_image_file(const std::string& name) {
  // <job id (40)>.<index (1-2 digits)>.<signature (64 hex)>.<png|jpg>
  if (name.size() < 40 + 1 + 1 + 1 + 64 + 4 || name.size() > 40 + 1 + 2 + 1 + 64 + 4) return std::nullopt;
  ImageFileRef ref;
  ref.job_id = name.substr(0, 40);
  if (!is_valid_job_id(ref.job_id) || name[40] != '.') return std::nullopt;
  const size_t dot = name.find('.', 41);
  if (dot == std::string::npos || dot == 41 || dot > 43) return std::nullopt;
  const std::string index = name.substr(41, dot - 41);
  for (char c : index)
    if (c < '0' || c > '9') return std::nullopt;
  ref.index = std::stoi(index);
  const std::string sig = name.substr(dot + 1, 64);
  ref.extension = name.size() > dot + 66 ? name.substr(dot + 66) : "";
  if (name.size() <= dot + 65 || name[dot + 65] != '.' || (ref.extension != "png" && ref.extension != "jpg"))
    return std::nullopt;
  const std::string expected = signature(signed_part(ref.job_id, ref.index, ref.extension));
  if (CRYPTO_memcmp(expected.data(), sig.data(), 64) != 0) return std::nullopt;
  return ref;
}

}  // namespace sdw::net
