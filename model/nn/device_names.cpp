// Device and dtype names (see device_names.h).
#include "model/nn/device_names.h"

#include <torch/version.h>

#include <ATen/Context.h>

#include <stdexcept>

#include "model/nn/fp8_linear.h"

namespace sdw {

at::Device parse_device(const std::string& text) {
  if (text == "cpu") return at::kCPU;
  if (text == "mps") {
    if (!at::hasMPS()) throw std::invalid_argument("device 'mps' is not available in this build (Metal needs a macOS libtorch)");
    return at::Device(at::kMPS);
  }
  if (text == "cuda" || text.rfind("cuda:", 0) == 0) {
    if (!at::hasCUDA()) throw std::invalid_argument("device '" + text + "' is not available: this libtorch has no CUDA support");
    int index = 0;
    if (text.size() > 5) {
      try {
        size_t used = 0;
        index = std::stoi(text.substr(5), &used);
        if (used != text.size() - 5 || index < 0) throw std::invalid_argument("bad");
      } catch (const std::exception&) {
        throw std::invalid_argument("bad device '" + text + "' (expected cuda:N)");
      }
    }
    return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw std::invalid_argument("unknown device '" + text + "' (valid: cpu, cuda, cuda:N, mps)");
}

at::ScalarType parse_dtype(const std::string& text) {
  if (text == "fp32" || text == "float32" || text == "float") return at::kFloat;
  if (text == "fp16" || text == "float16" || text == "half") return at::kHalf;
  if (text == "bf16" || text == "bfloat16") return at::kBFloat16;
  throw std::invalid_argument("unknown dtype '" + text + "' (valid: fp32, fp16, bf16)");
}

DtypeChoice parse_dtype_choice(const std::string& text) {
  if (text == "fp8") return {at::kHalf, true};
  try {
    return {parse_dtype(text), false};
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("unknown dtype '" + text + "' (valid: fp32, fp16, bf16, fp8)");
  }
}

void check_dtype_choice(const DtypeChoice& choice, const at::Device& device) {
  check_device_dtype(device, choice.dtype);
  if (!choice.fp8) return;
  if (!nn::fp8_compiled())
    throw std::invalid_argument("--dtype fp8 needs fp8 matmuls (at::_scaled_mm, PyTorch 2.4 or newer); this build's "
                                "libtorch has none (use fp16)");
  if (!device.is_cuda())
    throw std::invalid_argument("--dtype fp8 needs a CUDA GPU with fp8 (sm_89+: L4, H100, H200), not " + device.str());
}

const char* dtype_name(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "fp32";
    case at::kHalf: return "fp16";
    case at::kBFloat16: return "bf16";
    default: return "?";
  }
}

// fp16 on the CPU stores the weights in fp16 and computes in fp32 (nn/layers.h), so every
// device/dtype pair is accepted.
void check_device_dtype(const at::Device& device, at::ScalarType dtype) {
  (void)device;
  (void)dtype;
}

}  // namespace sdw
