// The `url` of OpenAI's `response_format: "url"`: a finished job's image served from the worker's
// own job store (kept for the worker's result TTL), at a path signed with a key made when the
// process starts, so the URL works without the bearer token (as OpenAI's signed blob URLs do) and
// only for images this process handed out. File name: <job id>.<index>.<HMAC-SHA256 hex>.<ext>.
#pragma once

#include <optional>
#include <string>

namespace sdw::net {

struct ImageFileRef {
  std::string job_id;
  int index = 0;
  std::string extension;  // "png" | "jpg"
};

// "/v1/images/files/<file name>" for image `index` of `job_id`.
std::string signed_image_path(const std::string& job_id, int index, const std::string& extension);
// The reference a file name stands for; nullopt when it is malformed or its signature is not ours.
std::optional<ImageFileRef> verify_image_file(const std::string& file_name);

}  // namespace sdw::net
