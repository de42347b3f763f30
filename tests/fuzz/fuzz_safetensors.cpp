// libFuzzer target: a safetensors file as bytes (8-byte little-endian header length, JSON header,
// data) through SafetensorsFile::from_bytes, the parser behind SafetensorsFile::open. A buffer
// must either parse into tensors that lie inside it (every tensor is fetched and its bytes read)
// or be a SafetensorsError; anything else is a finding.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "model/safetensors/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const sdw::SafetensorsFile file = sdw::SafetensorsFile::from_bytes(bytes);
    uint64_t total = 0;
    for (const auto& [name, info] : file.infos()) {
      SDW_FUZZ_CHECK(info.begin <= info.end && info.end <= size);
      total += info.end - info.begin;
      SDW_FUZZ_CHECK(total <= size);  // tensors do not overlap
      const at::Tensor t = file.get(name);
      SDW_FUZZ_CHECK(uint64_t(t.numel()) * t.element_size() == info.end - info.begin);
      // Reads every byte of the view here, where ASan sees it (libtorch is not instrumented).
      const auto* p = static_cast<const volatile uint8_t*>(t.data_ptr());
      uint8_t sum = 0;
      for (uint64_t i = 0; i < info.end - info.begin; ++i) sum ^= p[i];
      (void)sum;
    }
  } catch (const sdw::SafetensorsError&) {
  }
  return 0;
}
