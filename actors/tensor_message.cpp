// Tensor <-> message data (see tensor_message.h).
#include "actors/tensor_message.h"

#include <cstring>

namespace sdw::actors {
namespace {

struct DtypeName {
  at::ScalarType type;
  const char* name;
};
constexpr DtypeName kDtypes[] = {
    {at::kFloat, "f32"}, {at::kHalf, "f16"}, {at::kBFloat16, "bf16"}, {at::kDouble, "f64"},
    {at::kLong, "i64"},  {at::kInt, "i32"},  {at::kByte, "u8"},       {at::kBool, "bool"},
};

const char* dtype_name(at::ScalarType t) {
  for (const auto& d : kDtypes)
    if (d.type == t) return d.name;
  throw TensorMessageError(std::string("tensor dtype ") + c10::toString(t) + " cannot travel as a message");
}

at::ScalarType dtype_of(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return d.type;
  throw TensorMessageError("unknown tensor dtype '" + name + "' in a tensor message");
}

}  // namespace

int64_t tensor_msg::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

tensor_msg to_message(const at::Tensor& t) {
  tensor_msg m;
  if (!t.defined()) return m;
  at::Tensor c = t.detach().to(at::kCPU).contiguous();
  m.dtype = dtype_name(c.scalar_type());
  m.shape.assign(c.sizes().begin(), c.sizes().end());
  const size_t bytes = static_cast<size_t>(c.numel()) * c.element_size();
  m.data.assign(static_cast<const char*>(c.data_ptr()), bytes);
  return m;
}

at::Tensor from_message(const tensor_msg& m, const at::Device& device) {
  if (m.empty()) return at::Tensor();
  const at::ScalarType type = dtype_of(m.dtype);
  for (int64_t s : m.shape)
    if (s < 0) throw TensorMessageError("negative dimension in a tensor message");
  at::Tensor t = at::empty(m.shape, at::TensorOptions().dtype(type));
  const size_t expected = static_cast<size_t>(t.numel()) * t.element_size();
  if (expected != m.data.size())
    throw TensorMessageError("tensor message holds " + std::to_string(m.data.size()) + " bytes, its shape needs " +
                             std::to_string(expected));
  if (expected > 0) std::memcpy(t.data_ptr(), m.data.data(), expected);
  return device.is_cpu() ? t : t.to(device);
}

}  // namespace sdw::actors
