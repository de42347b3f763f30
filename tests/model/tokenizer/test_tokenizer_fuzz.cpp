// CLIP tokenizer on malformed files and inputs (fuzz-style): truncated, mistyped and randomly
// corrupted vocab.json / merges.txt, invalid UTF-8, random byte strings and random valid Unicode;
// every failure must be a TokenizerError, never a crash, and every id below the vocabulary size.
#include <catch.hpp>

#include <algorithm>
#include <random>

#include "model/tokenizer/clip_tokenizer.h"
#include "model/tokenizer/clip_tokenizer_fixtures.h"
#include "test_util.h"

using sdw::ClipTokenizer;
using sdw::TokenizerError;
using namespace sdw::test::clip_fixtures;

namespace {

constexpr int64_t kVocabSize = 49408;

// Loads, returning "" on success, "TokenizerError" on the expected error, or fails the test on
// any other exception.
std::string try_load(const std::string& vocab, const std::string& merges) {
  try {
    ClipTokenizer t(vocab, merges);
    return "";
  } catch (const TokenizerError& e) {
    REQUIRE(std::string(e.what()).size() > 0);
    return "TokenizerError";
  }
}

std::string utf8(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

void check_ids_valid(const ClipTokenizer& tok, const std::string& text) {
  const std::vector<int64_t> ids = tok.encode(text);
  REQUIRE(ids.size() >= 2);
  REQUIRE(ids.front() == tok.bos_id());
  REQUIRE(ids.back() == tok.eos_id());
  for (int64_t id : ids) REQUIRE((id >= 0 && id < kVocabSize));
  REQUIRE(tok.count_tokens(text) == ids.size() - 2);
  REQUIRE(tok.tokenize(text).size() == ids.size() - 2);
  const std::vector<int64_t> padded = tok.encode_padded(text);
  REQUIRE(padded.size() == 77);
  const size_t kept = std::min<size_t>(ids.size() - 2, 75);
  REQUIRE(std::equal(ids.begin(), ids.begin() + 1 + static_cast<std::ptrdiff_t>(kept), padded.begin()));
  REQUIRE(padded[kept + 1] == tok.eos_id());
}

}  // namespace

TEST_CASE("malformed vocab.json / merges.txt are TokenizerErrors", "[tokenizer][fuzz]") {
  sdw::test::TempDir dir;
  copy_fixture_files(dir, kSd1Dir);
  const std::string vocab = read_all(dir.file("vocab.json"));
  const std::string merges = read_all(dir.file("merges.txt"));
  const std::string v = dir.file("v.json"), m = dir.file("m.txt");
  write_file(m, merges);
  write_file(v, vocab);
  REQUIRE(try_load(v, m).empty());

  for (size_t len : {size_t(0), size_t(1), size_t(2), size_t(1000), vocab.size() / 2, vocab.size() - 1}) {
    INFO("vocab truncated to " << len);
    write_file(v, vocab.substr(0, len));
    CHECK(try_load(v, m) == "TokenizerError");
  }
  const char* bad_vocabs[] = {
      "[1, 2, 3]", "{}", "\"text\"", R"({"a": "x", "<|startoftext|>": 1, "<|endoftext|>": 2})",
      R"({"a": -1, "<|startoftext|>": 1, "<|endoftext|>": 2})", R"({"a": 1.5, "<|startoftext|>": 1, "<|endoftext|>": 2})",
      R"({"a": 99999999999, "<|startoftext|>": 1, "<|endoftext|>": 2})", R"({"a": 1})",  // no special tokens
      "{\"\xff\": 1, \"<|startoftext|>\": 2, \"<|endoftext|>\": 3}"};
  for (const char* bad : bad_vocabs) {
    INFO("vocab " << bad);
    write_file(v, bad);
    CHECK(try_load(v, m) == "TokenizerError");
  }
  write_file(v, vocab);

  const size_t line500 = [&] {
    size_t p = 0;
    for (int i = 0; i < 500; ++i) p = merges.find('\n', p) + 1;
    return p;
  }();
  const std::string mid_line = merges.substr(0, merges.find(' ', line500) + 1);  // "x " : one symbol
  const std::string bad_merges[] = {"", "\n\n", "#version: 0.2\n", "i n\nt h\n",  // no header
                                    mid_line, "#version: 0.2\ni n\nt h e\n", "#version: 0.2\ni n\n\nt h\n",
                                    "#version: 0.2\ni \xc3\n", merges.substr(0, 20) + "\xff\xfe" + merges.substr(22)};
  for (const std::string& bad : bad_merges) {
    INFO("merges of " << bad.size() << " bytes");
    write_file(m, bad);
    CHECK(try_load(v, m) == "TokenizerError");
  }
  CHECK(try_load(v, dir.file("missing.txt")) == "TokenizerError");
  CHECK(try_load(dir.file("missing.json"), dir.file("merges.txt")) == "TokenizerError");
  CHECK(try_load(dir.path(), dir.file("merges.txt")) == "TokenizerError");  // a directory

  // Random corruption: either still loadable or a TokenizerError, never anything else.
  std::mt19937 rng(7);
  for (int i = 0; i < 40; ++i) {
    std::string cv = vocab, cm = merges;
    std::string& target = i % 2 ? cv : cm;
    const int flips = 1 + static_cast<int>(rng() % 20);
    for (int k = 0; k < flips; ++k) target[rng() % target.size()] = static_cast<char>(rng() % 256);
    if (i % 5 == 0) target.resize(rng() % target.size());
    write_file(v, cv);
    write_file(m, cm);
    const std::string r = try_load(v, m);
    CHECK((r.empty() || r == "TokenizerError"));
  }
}

TEST_CASE("invalid UTF-8 input is a TokenizerError", "[tokenizer][fuzz]") {
  const ClipTokenizer& tok = tokenizer(kSd1Dir);
  for (const char* bad : {"\xff", "a\x80", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                          "\xf5\x80\x80\x80", "\xe2\x82", "caf\xc3", "\xf0\x9f\x98"}) {
    INFO("input bytes " << bad);
    CHECK_THROWS_AS(tok.tokenize(bad), TokenizerError);
    CHECK_THROWS_AS(tok.encode(bad), TokenizerError);
    CHECK_THROWS_AS(tok.encode_padded(bad), TokenizerError);
    CHECK_THROWS_AS(tok.count_tokens(bad), TokenizerError);
  }
  // Boundary code points are valid.
  for (char32_t cp : {char32_t(0x7F), char32_t(0x80), char32_t(0x7FF), char32_t(0x800), char32_t(0xD7FF),
                      char32_t(0xE000), char32_t(0xFFFF), char32_t(0x10000), char32_t(0x10FFFF)}) {
    CHECK_NOTHROW(check_ids_valid(tok, "x" + utf8(cp) + "y"));
  }
}

TEST_CASE("random byte strings never crash", "[tokenizer][fuzz]") {
  const ClipTokenizer& tok = tokenizer(kSd2Dir);
  std::mt19937 rng(42);
  int valid = 0, errors = 0;
  for (int i = 0; i < 400; ++i) {
    const size_t len = i % 50 == 0 ? 100000 : rng() % 300;
    std::string s(len, '\0');
    for (char& c : s) c = static_cast<char>(i % 3 == 0 ? rng() % 256 : (rng() % 4 == 0 ? 0 : rng() % 128));
    try {
      check_ids_valid(tok, s);
      ++valid;
    } catch (const TokenizerError&) {
      ++errors;
    }
  }
  CHECK(valid > 0);
  CHECK(errors > 0);
}

TEST_CASE("random valid Unicode strings tokenize to ids < 49408", "[tokenizer][fuzz]") {
  const ClipTokenizer& tok = tokenizer(kSd1Dir);
  std::mt19937 rng(99);
  auto random_cp = [&]() -> char32_t {
    switch (rng() % 6) {
      case 0: return static_cast<char32_t>(rng() % 0x80);
      case 1: return static_cast<char32_t>(0x80 + rng() % 0x780);
      case 2: return static_cast<char32_t>(0x3000 + rng() % 0x7000);  // CJK, kana, ...
      case 3: return static_cast<char32_t>(0x1F300 + rng() % 0x700);  // emoji
      case 4: return static_cast<char32_t>(0x300 + rng() % 0x70);     // combining marks
      default: {
        char32_t cp = static_cast<char32_t>(rng() % 0x110000);
        return cp >= 0xD800 && cp <= 0xDFFF ? U'x' : cp;
      }
    }
  };
  for (int i = 0; i < 500; ++i) {
    const size_t len = i % 100 == 0 ? 100000 : rng() % 200;
    std::string s;
    for (size_t k = 0; k < len; ++k) s += utf8(random_cp());
    INFO("string " << i << " of " << len << " code points");
    REQUIRE_NOTHROW(check_ids_valid(tok, s));
  }
  // One long word of a single letter (100k) goes through the BPE in one piece.
  const std::string long_word(100000, 'a');
  REQUIRE_NOTHROW(check_ids_valid(tok, long_word));
  CHECK(tok.count_tokens(long_word) < 100000);
}
