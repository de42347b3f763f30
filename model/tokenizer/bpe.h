// Byte-level BPE model of the CLIP tokenizer: vocab.json + merges.txt, the GPT-2/CLIP
// bytes_to_unicode table, and the merge loop of transformers' CLIPTokenizer.bpe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sdw::tok {

class BpeModel {
 public:
  // Throws TokenizerError for unreadable or malformed files.
  BpeModel(const std::string& vocab_json_path, const std::string& merges_txt_path);

  // Appends the BPE symbols of one pre-token given as raw UTF-8 bytes (non-empty); the last
  // symbol carries the "</w>" suffix.
  void encode_word(std::string_view bytes, std::vector<int32_t>& symbols) const;

  const std::string& symbol_text(int32_t symbol) const { return symbol_text_[symbol]; }
  // Vocabulary id of a symbol, or -1 when the vocabulary lacks it.
  int64_t symbol_vocab_id(int32_t symbol) const { return symbol_vocab_id_[symbol]; }
  // Vocabulary id of a token string, or -1.
  int64_t vocab_id(const std::string& token) const;
  size_t vocab_size() const { return vocab_.size(); }
  size_t merge_count() const { return merge_count_; }

 private:
  struct Merge {
    int32_t rank;
    int32_t merged;
  };
  int32_t intern(const std::string& text);
  const Merge* find_merge(int32_t a, int32_t b) const;

  std::unordered_map<std::string, int64_t> vocab_;
  std::unordered_map<std::string, int32_t> symbol_index_;
  std::vector<std::string> symbol_text_;
  std::vector<int64_t> symbol_vocab_id_;
  std::unordered_map<uint64_t, Merge> merges_;  // (left << 32 | right) -> rank, merged symbol
  size_t merge_count_ = 0;
  int32_t byte_symbol_[256] = {};      // byte -> its bytes_to_unicode character
  int32_t byte_end_symbol_[256] = {};  // the same with "</w>"
};

}  // namespace sdw::tok
