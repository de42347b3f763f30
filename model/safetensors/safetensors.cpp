// safetensors reader and writer (see safetensors.h). Every header field is checked before use:
// a malformed file is a SafetensorsError naming the problem, never a crash or an out-of-range read.
#include "model/safetensors/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "model/safetensors/mapped_pages.h"

namespace sdw {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;  // as the reference implementation

struct DtypeEntry {
  const char* name;
  at::ScalarType type;
  size_t size;
};

const DtypeEntry kDtypes[] = {
    {"F64", at::kDouble, 8}, {"F32", at::kFloat, 4},  {"F16", at::kHalf, 2},
    {"BF16", at::kBFloat16, 2}, {"I64", at::kLong, 8}, {"I32", at::kInt, 4},
    {"I16", at::kShort, 2},  {"I8", at::kChar, 1},    {"U8", at::kByte, 1},
    {"BOOL", at::kBool, 1},
};

const DtypeEntry* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw SafetensorsError("safetensors file '" + file + "': " + what);
}

}  // namespace

struct SafetensorsFile::Mapping {
  void* addr = nullptr;
  size_t size = 0;
  std::string owned;  // used instead of a mapping for in-memory buffers
  ~Mapping() {
    if (addr && addr != MAP_FAILED) {
      unregister_mapping(addr);
      munmap(addr, size);
    }
  }
};

at::ScalarType safetensors_dtype(const std::string& name) {
  const auto* d = find_dtype(name);
  if (!d) throw SafetensorsError("unknown safetensors dtype '" + name + "'");
  return d->type;
}

size_t safetensors_dtype_size(const std::string& name) {
  const auto* d = find_dtype(name);
  if (!d) throw SafetensorsError("unknown safetensors dtype '" + name + "'");
  return d->size;
}

std::string safetensors_dtype_name(at::ScalarType type) {
  for (const auto& d : kDtypes)
    if (d.type == type) return d.name;
  throw SafetensorsError(std::string("dtype not storable in safetensors: ") + c10::toString(type));
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    fail(path, "cannot stat");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->size = static_cast<size_t>(st.st_size);
  if (mapping->size < 8) {
    ::close(fd);
    fail(path, "file is " + std::to_string(mapping->size) + " bytes, too short for a header");
  }
  mapping->addr = mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping->addr == MAP_FAILED) fail(path, std::string("mmap failed: ") + std::strerror(errno));
  register_mapping(mapping->addr, mapping->size);
  SafetensorsFile f;
  f.path_ = path;
  f.mapping_ = mapping;
  f.parse_header(static_cast<const uint8_t*>(mapping->addr), mapping->size);
  return f;
}

SafetensorsFile SafetensorsFile::from_bytes(const std::string& bytes, const std::string& name) {
  auto mapping = std::make_shared<Mapping>();
  mapping->owned = bytes;
  SafetensorsFile f;
  f.path_ = name;
  f.mapping_ = mapping;
  if (bytes.size() < 8) fail(name, "buffer is " + std::to_string(bytes.size()) + " bytes, too short for a header");
  f.parse_header(reinterpret_cast<const uint8_t*>(mapping->owned.data()), mapping->owned.size());
  return f;
}

void SafetensorsFile::parse_header(const uint8_t* base, uint64_t size) {
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | base[i];
  if (header_len > kMaxHeaderBytes) fail(path_, "header length " + std::to_string(header_len) + " exceeds the 100 MiB limit");
  if (header_len > size - 8)
    fail(path_, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                    std::to_string(size) + " bytes): truncated or not a safetensors file");
  if (header_len < 2) fail(path_, "header is too short to be JSON");
  const char* hbegin = reinterpret_cast<const char*>(base + 8);
  if (hbegin[0] != '{') fail(path_, "header does not start with '{'");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(hbegin, hbegin + header_len);
  } catch (const nlohmann::json::exception& e) {
    fail(path_, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail(path_, "header is not a JSON object");
  data_ = base + 8 + header_len;
  data_size_ = size - 8 - header_len;

  std::vector<std::pair<std::pair<uint64_t, uint64_t>, std::string>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(path_, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail(path_, "__metadata__ value for '" + m.key() + "' is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) fail(path_, "entry '" + name + "' is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) fail(path_, "tensor '" + name + "' has no dtype");
    if (!v.contains("shape") || !v["shape"].is_array()) fail(path_, "tensor '" + name + "' has no shape");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      fail(path_, "tensor '" + name + "' has no data_offsets [begin, end]");
    TensorInfo ti;
    ti.dtype = v["dtype"].get<std::string>();
    const auto* dt = find_dtype(ti.dtype);
    if (!dt) fail(path_, "tensor '" + name + "' has unknown dtype '" + ti.dtype + "'");
    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
        fail(path_, "tensor '" + name + "' has an invalid dimension in its shape");
      uint64_t dim = d.get<uint64_t>();
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / dim))
        fail(path_, "tensor '" + name + "' has a shape that overflows");
      numel *= dim;
      ti.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto& off = v["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(path_, "tensor '" + name + "' has non-integer or negative data_offsets");
    ti.begin = off[0].get<uint64_t>();
    ti.end = off[1].get<uint64_t>();
    if (ti.end < ti.begin) fail(path_, "tensor '" + name + "' has data_offsets end < begin");
    if (ti.end > data_size_)
      fail(path_, "tensor '" + name + "' data [" + std::to_string(ti.begin) + ", " + std::to_string(ti.end) +
                      ") lies beyond the data section (" + std::to_string(data_size_) + " bytes): file truncated?");
    if (numel > std::numeric_limits<uint64_t>::max() / dt->size) fail(path_, "tensor '" + name + "' is too large");
    if (ti.end - ti.begin != numel * dt->size)
      fail(path_, "tensor '" + name + "' has " + std::to_string(ti.end - ti.begin) + " bytes of data but its shape and dtype need " +
                      std::to_string(numel * dt->size));
    ranges.push_back({{ti.begin, ti.end}, name});
    infos_.emplace(name, std::move(ti));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first.first < ranges[i - 1].first.second)
      fail(path_, "tensors '" + ranges[i - 1].second + "' and '" + ranges[i].second + "' have overlapping data");
  }
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(infos_.size());
  for (const auto& kv : infos_) out.push_back(kv.first);
  return out;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = infos_.find(name);
  if (it == infos_.end()) fail(path_, "no tensor named '" + name + "'");
  return it->second;
}

at::Tensor SafetensorsFile::get(const std::string& name) const {
  const TensorInfo& ti = info(name);
  const auto* dt = find_dtype(ti.dtype);
  auto options = at::TensorOptions().dtype(dt->type).device(at::kCPU);
  const uint8_t* ptr = data_ + ti.begin;
  if (ti.end == ti.begin) return at::empty(ti.shape, options);
  if (reinterpret_cast<uintptr_t>(ptr) % dt->size != 0) {
    // Unaligned for its element type: copy into an aligned tensor.
    at::Tensor t = at::empty(ti.shape, options);
    std::memcpy(t.data_ptr(), ptr, ti.end - ti.begin);
    return t;
  }
  auto keep = mapping_;
  // The view keeps the mapping alive; the data is read-only, so callers must not write in place.
  return at::from_blob(const_cast<uint8_t*>(ptr), ti.shape, [keep](void*) mutable { keep.reset(); }, options);
}

std::map<std::string, at::Tensor> SafetensorsFile::tensors() const {
  std::map<std::string, at::Tensor> out;
  for (const auto& kv : infos_) out.emplace(kv.first, get(kv.first));
  return out;
}

std::string safetensors_bytes(const std::map<std::string, at::Tensor>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> order;
  uint64_t offset = 0;
  for (const auto& kv : tensors) {
    at::Tensor t = kv.second.detach().to(at::kCPU).contiguous();
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[kv.first] = {{"dtype", safetensors_dtype_name(t.scalar_type())},
                        {"shape", t.sizes().vec()},
                        {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    order.push_back(t);
  }
  std::string h = header.dump();
  while (h.size() % 8 != 0) h.push_back(' ');
  std::string out;
  out.reserve(8 + h.size() + offset);
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += h;
  for (const auto& t : order)
    out.append(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel() * t.element_size()));
  return out;
}

void save_safetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string bytes = safetensors_bytes(tensors, metadata);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw SafetensorsError("cannot write '" + tmp + "'");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw SafetensorsError("write failed for '" + tmp + "'");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw SafetensorsError("cannot rename '" + tmp + "' to '" + path + "'");
}

}  // namespace sdw
