// Base64 (model/image/base64.cpp): RFC 4648 vectors, the lenient decoder (padding, whitespace,
// URL-safe alphabet, data: URLs), error positions, and random text (fuzz-style).
#include <catch.hpp>

#include <random>
#include <string>
#include <utility>

#include "image_test_util.h"

using sdw::Image;
using sdw::ImageError;
using namespace sdw::image_test;

TEST_CASE("base64 RFC 4648 vectors and round trip", "[image][base64]") {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CHECK(sdw::encode_base64(plain) == encoded);
    CHECK(sdw::decode_base64(encoded) == plain);
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(char(i));
  for (size_t n = 0; n <= all.size(); n += 7) {
    std::string s = all.substr(0, n);
    CHECK(sdw::decode_base64(sdw::encode_base64(s)) == s);
  }
}

TEST_CASE("base64 leniency: padding optional, whitespace, URL-safe alphabet, data URL", "[image][base64]") {
  CHECK(sdw::decode_base64("Zg") == "f");
  CHECK(sdw::decode_base64("Zm8") == "fo");
  CHECK(sdw::decode_base64("Zm9vYg") == "foob");
  CHECK(sdw::decode_base64(" Zm9v\nYmFy\r\n\tZm9v ") == "foobarfoo");
  CHECK(sdw::decode_base64("Zm9v\nYg=\n=") == "foob");
  // 0xfb 0xff: "+/8=" in the standard alphabet, "-_8" URL-safe.
  CHECK(sdw::decode_base64("+/8=") == "\xfb\xff");
  CHECK(sdw::decode_base64("-_8") == "\xfb\xff");
  CHECK(sdw::encode_base64("\xfb\xff") == "+/8=");
  CHECK(sdw::decode_base64("data:image/png;base64,Zm9v") == "foo");
  CHECK(sdw::decode_base64("data:image/jpeg;base64,Zm9vYmFy") == "foobar");
  CHECK(sdw::decode_base64("  DATA:application/octet-stream;BASE64,Zm9v\n") == "foo");
  CHECK(sdw::decode_base64("data:;base64,Zm9v") == "foo");
}

TEST_CASE("base64 errors name the position", "[image][base64]") {
  CHECK(contains(error_of([] { sdw::decode_base64("Zm9v*mFy"); }), "position 4"));
  CHECK(contains(error_of([] { sdw::decode_base64("Zm9v YmF\x01"); }), "position 8"));
  CHECK(contains(error_of([] { sdw::decode_base64("data:image/png;base64,Zm9v!"); }), "position 26"));
  CHECK(contains(error_of([] { sdw::decode_base64("Zg==Zg=="); }), "position 4"));
  CHECK(contains(error_of([] { sdw::decode_base64("=Zg"); }), "position 0"));
  CHECK_THROWS_AS(sdw::decode_base64("Zm9vY"), ImageError);                    // one dangling digit
  CHECK_THROWS_AS(sdw::decode_base64("Zg==="), ImageError);                    // too much padding
  CHECK_THROWS_AS(sdw::decode_base64("data:image/png,Zm9v"), ImageError);      // not base64
  CHECK_THROWS_AS(sdw::decode_base64("data:image/png;base64"), ImageError);    // no comma
}

TEST_CASE("random text never crashes the base64 decoder", "[image][base64][fuzz]") {
  std::mt19937 rng(99);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_= \n\r\t:;,.data*";
  for (int it = 0; it < 5000; ++it) {
    std::string s;
    size_t n = rng() % 64;
    for (size_t i = 0; i < n; ++i) s.push_back(it % 2 ? char(rng() & 0xff) : alphabet[rng() % alphabet.size()]);
    try {
      sdw::decode_base64(s);
    } catch (const ImageError&) {
    }
  }
  SUCCEED();
}
