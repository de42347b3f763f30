// safetensors reader: round trips, dtypes, metadata, and malformed files (fuzz-style): every
// corruption must be a SafetensorsError with a message, never a crash.
#include <catch.hpp>

#include <fstream>
#include <random>

#include "model/safetensors/safetensors.h"
#include "test_util.h"

using sdw::SafetensorsError;
using sdw::SafetensorsFile;

namespace {

std::string header_bytes(const std::string& json, const std::string& data = "") {
  std::string out;
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out + json + data;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("round trip of every supported dtype with metadata", "[safetensors]") {
  sdw::test::TempDir dir;
  std::map<std::string, at::Tensor> in;
  in["f32"] = at::arange(12, at::kFloat).reshape({3, 4}) * 0.5;
  in["f16"] = at::arange(6, at::kFloat).to(at::kHalf);
  in["bf16"] = (at::arange(5, at::kFloat) - 2).to(at::kBFloat16);
  in["f64"] = at::tensor({1.5, -2.25}, at::kDouble);
  in["i64"] = at::tensor({int64_t(1) << 40, int64_t(-7)}, at::kLong);
  in["i32"] = at::tensor({3, -4, 5}, at::kInt);
  in["u8"] = at::tensor({0, 255}, at::kByte);
  in["bool"] = at::tensor({1, 0, 1}, at::kInt).to(at::kBool);
  in["scalar"] = at::scalar_tensor(3.0, at::kFloat);
  in["empty"] = at::empty({0, 4}, at::kFloat);
  sdw::save_safetensors(dir.file("a.safetensors"), in, {{"format", "pt"}});

  auto f = SafetensorsFile::open(dir.file("a.safetensors"));
  REQUIRE(f.metadata().at("format") == "pt");
  REQUIRE(f.names().size() == in.size());
  for (const auto& kv : in) {
    at::Tensor t = f.get(kv.first);
    INFO(kv.first);
    REQUIRE(t.scalar_type() == kv.second.scalar_type());
    REQUIRE(t.sizes() == kv.second.sizes());
    REQUIRE(at::equal(t, kv.second));
  }
  REQUIRE(f.info("f16").dtype == "F16");
  REQUIRE(f.info("bf16").dtype == "BF16");
}

TEST_CASE("reads the diffusers fixture files", "[safetensors]") {
  auto f = SafetensorsFile::open(sdw::test::fixture("pipelines/tiny-sd15/unet/diffusion_pytorch_model.safetensors"));
  REQUIRE(f.contains("conv_in.weight"));
  REQUIRE(f.info("conv_in.weight").shape == std::vector<int64_t>{32, 4, 3, 3});
  REQUIRE(f.metadata().at("format") == "pt");
  at::Tensor w = f.get("conv_in.weight");
  REQUIRE(w.scalar_type() == at::kFloat);
  REQUIRE(w.abs().sum().item<double>() > 0);
}

TEST_CASE("tensor views outlive the file object", "[safetensors]") {
  sdw::test::TempDir dir;
  sdw::save_safetensors(dir.file("b.safetensors"), {{"x", at::ones({4, 4})}});
  at::Tensor t;
  { t = SafetensorsFile::open(dir.file("b.safetensors")).get("x"); }
  REQUIRE(t.sum().item<float>() == 16.0f);
}

TEST_CASE("malformed headers are clear errors", "[safetensors][fuzz]") {
  const std::string ok_json = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data8(8, '\0');
  struct Case {
    const char* name;
    std::string bytes;
    const char* expect;
  };
  std::string huge_len(8, '\0');
  huge_len[7] = 0x7f;
  const std::vector<Case> cases = {
      {"empty file", "", "too short"},
      {"seven bytes", std::string(7, '\0'), "too short"},
      {"header length past the end", header_bytes(ok_json).substr(0, 20), "runs past the end"},
      {"absurd header length", huge_len + "{}", "exceeds"},
      {"not json", header_bytes("{not json}", data8), "not valid JSON"},
      {"not an object", header_bytes("[1,2,3]   ", data8), "start with"},
      {"unknown dtype", header_bytes(R"({"a":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", data8), "unknown dtype"},
      {"missing dtype", header_bytes(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", data8), "no dtype"},
      {"missing offsets", header_bytes(R"({"a":{"dtype":"F32","shape":[2]}})", data8), "data_offsets"},
      {"negative dimension", header_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data8), "invalid dimension"},
      {"size mismatch", header_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data8), "need"},
      {"out of range", header_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data8), "beyond the data section"},
      {"end before begin", header_bytes(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", data8), "end < begin"},
      {"overlap", header_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data8), "overlapping"},
      {"overflowing shape", header_bytes(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})", data8), "overflow"},
      {"bad metadata", header_bytes(R"({"__metadata__":{"k":1}})", data8), "not a string"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    try {
      SafetensorsFile::from_bytes(c.bytes, c.name);
      FAIL("accepted a malformed file");
    } catch (const SafetensorsError& e) {
      REQUIRE_THAT(e.what(), Catch::Matchers::Contains(c.expect));
    }
  }
  sdw::test::TempDir dir;
  write_file(dir.file("t.safetensors"), header_bytes(ok_json, "1234"));
  REQUIRE_THROWS_AS(SafetensorsFile::open(dir.file("t.safetensors")), SafetensorsError);
  REQUIRE_THROWS_AS(SafetensorsFile::open(dir.file("missing.safetensors")), SafetensorsError);
  REQUIRE_THROWS_AS(SafetensorsFile::open(dir.path()), SafetensorsError);
}

TEST_CASE("truncations and random byte flips never crash", "[safetensors][fuzz]") {
  std::map<std::string, at::Tensor> in{{"w", at::randn({4, 3})}, {"b", at::randn({3})}, {"i", at::arange(5)}};
  const std::string good = sdw::safetensors_bytes(in, {{"format", "pt"}});
  // Every truncation point.
  for (size_t n = 0; n < good.size(); ++n) {
    try {
      auto f = SafetensorsFile::from_bytes(good.substr(0, n));
      for (const auto& name : f.names()) f.get(name);  // whatever parsed must be readable
    } catch (const SafetensorsError&) {
    }
  }
  // Random corruption of the header and data.
  std::mt19937 rng(1234);
  int rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bad = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) bad[rng() % bad.size()] = static_cast<char>(rng() & 0xff);
    try {
      auto f = SafetensorsFile::from_bytes(bad);
      for (const auto& name : f.names()) {
        at::Tensor t = f.get(name);
        REQUIRE(t.numel() >= 0);
      }
    } catch (const SafetensorsError& e) {
      REQUIRE(std::string(e.what()).size() > 10);
      ++rejected;
    }
  }
  REQUIRE(rejected > 0);
}
