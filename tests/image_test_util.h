// Helpers shared by the image tests (tests/test_image_decode.cpp, test_png_encode.cpp, ...),
// header-only: test images, inputs written by stb_image_write directly (not by the code under
// test), and an independent PNG chunk writer and walker with its own bitwise CRC-32.
#pragma once

#include <catch.hpp>

#include <stb_image_write.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "model/image/image_io.h"

namespace sdw::image_test {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline void append_to_string(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
}

// Inputs written by stb_image_write directly (not by the code under test).
inline std::string stb_png(const Image& im) {
  std::string out;
  REQUIRE(stbi_write_png_to_func(append_to_string, &out, im.width, im.height, im.channels, im.pixels.data(),
                                 im.width * im.channels));
  return out;
}
inline std::string stb_jpg(const Image& im, int quality) {
  std::string out;
  REQUIRE(stbi_write_jpg_to_func(append_to_string, &out, im.width, im.height, im.channels, im.pixels.data(), quality));
  return out;
}
inline std::string stb_bmp(const Image& im) {
  std::string out;
  REQUIRE(stbi_write_bmp_to_func(append_to_string, &out, im.width, im.height, im.channels, im.pixels.data()));
  return out;
}

inline Image make_image(int w, int h, int c) {
  Image im;
  im.width = w;
  im.height = h;
  im.channels = c;
  im.pixels.assign(size_t(w) * h * c, 0);
  return im;
}

inline Image random_image(int w, int h, int c, uint32_t seed) {
  Image im = make_image(w, h, c);
  std::mt19937 rng(seed);
  for (auto& p : im.pixels) p = uint8_t(rng() & 0xff);
  return im;
}

// Smooth content (JPEG-friendly).
inline Image gradient_image(int w, int h) {
  Image im = make_image(w, h, 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &im.pixels[(size_t(y) * w + x) * 3];
      p[0] = uint8_t(x * 255 / (w - 1));
      p[1] = uint8_t(y * 255 / (h - 1));
      p[2] = uint8_t(128 + 100 * std::sin(x * 0.1 + y * 0.07));
    }
  }
  return im;
}

inline const uint8_t* pixel(const Image& im, int x, int y) {
  return &im.pixels[(size_t(y) * im.width + x) * im.channels];
}

// Mean absolute difference of two images' bytes (same size).
inline double mean_abs_error(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  REQUIRE(a.size() == b.size());
  double err = 0;
  for (size_t i = 0; i < a.size(); ++i) err += std::abs(int(a[i]) - int(b[i]));
  return err / double(a.size());
}

// Bitwise CRC-32 (independent of the one under test).
inline uint32_t crc32_bitwise(const std::string& bytes) {
  uint32_t c = 0xffffffffu;
  for (char ch : bytes) {
    c ^= uint8_t(ch);
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

inline std::string be32(uint32_t v) {
  return std::string{char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}

inline std::string png_chunk(const std::string& type, const std::string& data) {
  return be32(uint32_t(data.size())) + type + data + be32(crc32_bitwise(type + data));
}

// A string literal with embedded NULs, without its terminator.
template <size_t N>
std::string bin(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

inline const std::string kPngSignature = bin("\x89PNG\r\n\x1a\n");

struct Chunk {
  std::string type;
  std::string data;
  bool crc_ok;
};

// The tests' own chunk walker (structure assumed valid).
inline std::vector<Chunk> walk_chunks(const std::string& png) {
  std::vector<Chunk> out;
  REQUIRE(png.compare(0, 8, kPngSignature) == 0);
  size_t pos = 8;
  while (pos + 12 <= png.size()) {
    uint32_t len = (uint32_t(uint8_t(png[pos])) << 24) | (uint32_t(uint8_t(png[pos + 1])) << 16) |
                   (uint32_t(uint8_t(png[pos + 2])) << 8) | uint32_t(uint8_t(png[pos + 3]));
    REQUIRE(pos + 12 + len <= png.size());
    Chunk c{png.substr(pos + 4, 4), png.substr(pos + 8, len), false};
    c.crc_ok = png.substr(pos + 8 + len, 4) == be32(crc32_bitwise(c.type + c.data));
    out.push_back(c);
    pos += 12 + len;
  }
  REQUIRE(pos == png.size());
  return out;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The message of the ImageError f throws ("" when it throws none).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ImageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace sdw::image_test
