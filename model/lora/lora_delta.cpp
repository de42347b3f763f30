// LoRA weight deltas (see lora_delta.h).
#include "model/lora/lora_delta.h"

namespace sdw {
namespace {

std::string shape_text(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

bool is_1x1(const at::Tensor& t) { return t.dim() == 2 || (t.size(2) == 1 && t.size(3) == 1); }

}  // namespace

bool lora_fits(const LoraLayer& l, at::IntArrayRef w) {
  const at::Tensor& down = l.down;  // [r, in] or [r, in, kh, kw]
  const at::Tensor& up = l.up;      // [out, r] or [out, r, 1, 1]
  if (w.size() != 2 && w.size() != 4) return false;
  if (up.size(0) != w[0] || down.size(1) != w[1]) return false;
  if (w.size() == 2 || (w[2] == 1 && w[3] == 1)) return is_1x1(down);
  return down.dim() == 4 && down.size(2) == w[2] && down.size(3) == w[3];
}

void check_lora_fits(const LoraLayer& l, at::IntArrayRef w, const std::string& file, const std::string& target) {
  if (lora_fits(l, w)) return;
  throw LoraError("LoRA file '" + file + "': '" + l.key + "' (down " + shape_text(l.down.sizes()) + ", up " +
                  shape_text(l.up.sizes()) + ") does not fit " + target + " of shape " + shape_text(w));
}

at::Tensor lora_delta(const LoraLayer& l, at::IntArrayRef w, double factor, const at::Device& device) {
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
  at::Tensor up = l.up.to(f32).flatten(1);      // [out, r]
  at::Tensor down = l.down.to(f32).flatten(1);  // [r, in * kh * kw]
  at::Tensor delta = at::matmul(up, down);      // [out, in * kh * kw]
  return (delta * factor).view(w);              // [out, in] or [out, in, kh, kw]
}

}  // namespace sdw
