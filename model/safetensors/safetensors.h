// safetensors reader and writer: memory-mapped, validated, by name.
// Format: 8-byte little-endian header length N, N bytes of JSON header
// ({"name": {"dtype","shape","data_offsets":[begin,end]}, "__metadata__": {str: str}}), then data.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace sdw {

// Thrown for any malformed or unreadable safetensors file; the message names file and problem.
class SafetensorsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TensorInfo {
  std::string dtype;           // "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;  // may be empty (scalar)
  uint64_t begin = 0;          // offsets relative to the start of the data section
  uint64_t end = 0;
};

// A parsed safetensors file. Tensors are views into the mapped file (or copies where the
// data is not aligned for its type); they stay valid while any tensor of the file is alive.
class SafetensorsFile {
 public:
  // Maps `path` and validates the header; throws SafetensorsError.
  static SafetensorsFile open(const std::string& path);
  // Parses an in-memory buffer (copied); used by tests and for small payloads.
  static SafetensorsFile from_bytes(const std::string& bytes, const std::string& name = "<memory>");

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::map<std::string, TensorInfo>& infos() const { return infos_; }
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return infos_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;

  // The tensor as stored (its own dtype, CPU). Throws if absent.
  at::Tensor get(const std::string& name) const;
  // All tensors.
  std::map<std::string, at::Tensor> tensors() const;

 private:
  struct Mapping;
  std::string path_;
  std::shared_ptr<Mapping> mapping_;
  const uint8_t* data_ = nullptr;  // start of the data section
  uint64_t data_size_ = 0;
  std::map<std::string, TensorInfo> infos_;
  std::map<std::string, std::string> metadata_;

  void parse_header(const uint8_t* base, uint64_t size);
};

// safetensors dtype string <-> ATen scalar type. Throws SafetensorsError on unknown names.
at::ScalarType safetensors_dtype(const std::string& name);
std::string safetensors_dtype_name(at::ScalarType type);
size_t safetensors_dtype_size(const std::string& name);

// Writes tensors (contiguous copies are made as needed) to `path` in the standard layout.
void save_safetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});
// Same, into a byte string.
std::string safetensors_bytes(const std::map<std::string, at::Tensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace sdw
