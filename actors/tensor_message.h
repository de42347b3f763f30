// A tensor as message data: dtype name, shape and the raw bytes (row-major, little-endian host
// order). What the stages exchange (embeddings, latents), so that a stage could as well live in
// another process: it has an `inspect` overload and is registered with the actor system's types.
#pragma once

#include <ATen/ATen.h>
#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace sdw::actors {

struct tensor_msg {
  std::string dtype;           // "f32" | "f16" | "bf16" | "f64" | "i64" | "i32" | "u8" | "bool"
  std::vector<int64_t> shape;  // empty with dtype "": no tensor
  std::string data;            // numel * element size bytes

  bool empty() const { return dtype.empty(); }
  int64_t numel() const;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tensor_msg& x) {
  return f(caf::meta::type_name("sdw.tensor"), x.dtype, x.shape, x.data);
}

class TensorMessageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Copies `t` (any device; undefined -> empty message) into host bytes.
tensor_msg to_message(const at::Tensor& t);
// A new tensor on `device` with the message's dtype, shape and bytes; throws TensorMessageError
// when the dtype is unknown or the byte count does not match the shape.
at::Tensor from_message(const tensor_msg& m, const at::Device& device = at::kCPU);

}  // namespace sdw::actors
