// CLIP tokenizer's BPE merge order: the heap-based merge loop against a naive re-implementation of
// CLIPTokenizer.bpe on random words, and merge rounds (pairs created in a round wait for the next
// round, non-overlapping left to right, unknown symbols as the unk token) on a tiny vocabulary.
#include <catch.hpp>

#include <cstdint>
#include <map>
#include <random>
#include <sstream>
#include <utility>

#include "model/tokenizer/clip_tokenizer.h"
#include "model/tokenizer/clip_tokenizer_fixtures.h"
#include "test_util.h"

using sdw::ClipTokenizer;
using namespace sdw::test::clip_fixtures;

namespace {

// Independent re-implementation of CLIPTokenizer.bytes_to_unicode + bpe (the Python loop) for
// cross-checking the heap-based merge loop.
class NaiveBpe {
 public:
  explicit NaiveBpe(const std::string& merges_path) {
    std::istringstream in(read_all(merges_path));
    std::string line;
    std::getline(in, line);  // header
    int rank = 0;
    while (rank < 48894 && std::getline(in, line)) {
      const size_t sp = line.find(' ');
      ranks_[{line.substr(0, sp), line.substr(sp + 1)}] = rank++;
    }
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      const unsigned cp = keep ? b : 256 + n++;
      std::string s;
      if (cp < 0x80) {
        s.push_back(static_cast<char>(cp));
      } else {
        s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
      byte_char_[b] = s;
    }
  }

  std::vector<std::string> bpe(const std::string& raw) const {
    std::vector<std::string> word;
    for (unsigned char b : raw) word.push_back(byte_char_[b]);
    word.back() += "</w>";
    while (word.size() > 1) {
      int best = INT32_MAX;
      std::pair<std::string, std::string> bigram;
      for (size_t i = 0; i + 1 < word.size(); ++i) {
        auto it = ranks_.find({word[i], word[i + 1]});
        if (it != ranks_.end() && it->second < best) best = it->second, bigram = it->first;
      }
      if (best == INT32_MAX) break;
      std::vector<std::string> merged;
      for (size_t i = 0; i < word.size();) {
        if (i + 1 < word.size() && word[i] == bigram.first && word[i + 1] == bigram.second) {
          merged.push_back(word[i] + word[i + 1]);
          i += 2;
        } else {
          merged.push_back(word[i++]);
        }
      }
      word = merged;
    }
    return word;
  }

 private:
  std::map<std::pair<std::string, std::string>, int> ranks_;
  std::string byte_char_[256];
};

}  // namespace

TEST_CASE("BPE merge loop matches a naive CLIPTokenizer.bpe on random words", "[tokenizer]") {
  const ClipTokenizer& tok = tokenizer(kSd1Dir);
  const NaiveBpe naive(sdw::test::fixture(std::string(kSd1Dir) + "/merges.txt"));
  std::mt19937 rng(1234);
  const std::string letters = "abcdefghijklmnopqrstuvwxyzeeaaiioonnsstt";
  const std::string punct = "?.,;:-_()[]{}<>/\\|@#$%^&*+=~`\"";
  for (int i = 0; i < 2000; ++i) {
    const std::string& alphabet = i % 4 == 3 ? punct : letters;
    std::string word;
    const int len = 1 + static_cast<int>(rng() % (i % 10 == 0 ? 60 : 14));
    for (int k = 0; k < len; ++k) word.push_back(alphabet[rng() % alphabet.size()]);
    INFO("word " << word);
    REQUIRE(tok.tokenize(word) == naive.bpe(word));
  }
}

TEST_CASE("BPE rounds: pairs created in a round wait for the next round", "[tokenizer]") {
  sdw::test::TempDir dir;
  // Rank 0 ("ab","a") only appears after rank 1 ("a","b") merges; Python merges every ("a","b")
  // of the round first: "ababc" -> ab ab c</w>. A plain priority queue would give aba b c</w>.
  write_file(dir.file("merges.txt"), "#version: 0.2\nab a\na b\na a\n");
  write_file(dir.file("vocab.json"),
             R"({"ab": 0, "aba": 1, "c</w>": 2, "aa": 3, "a": 4, "a</w>": 5, "<|startoftext|>": 6, "<|endoftext|>": 7})");
  ClipTokenizer t(dir.file("vocab.json"), dir.file("merges.txt"));
  CHECK(t.tokenize("ababc") == std::vector<std::string>{"ab", "ab", "c</w>"});
  CHECK(t.encode("ababc") == std::vector<int64_t>{6, 0, 0, 2, 7});
  // Non-overlapping, left to right: "aaaa" -> aa a a</w>.
  CHECK(t.tokenize("aaaa") == std::vector<std::string>{"aa", "a", "a</w>"});
  // Symbols missing from the vocab map to the unk token.
  CHECK(t.encode("zz") == std::vector<int64_t>{6, 7, 7, 7});
}
