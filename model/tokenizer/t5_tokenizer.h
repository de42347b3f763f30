// transformers' T5Tokenizer (the slow tokenizer, legacy=True) as SD3's `tokenizer_3` uses it:
// SentencePiece unigram pieces from `spiece.model` (Debian's libsentencepiece), the special
// tokens split out of the text first, `</s>` appended, truncation and right padding with `<pad>`.
// For text without special-token text it gives T5TokenizerFast's ids.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/tokenizer/clip_tokenizer.h"  // TokenizerError

namespace sdw {

class T5Tokenizer {
 public:
  // SD3's default max_sequence_length, and the most diffusers' StableDiffusion3Pipeline accepts.
  static constexpr int kDefaultMaxLength = 256;
  static constexpr int kMaxSequenceLength = 512;

  // Reads `spiece.model` and the special tokens of `tokenizer_config.json` (added_tokens_decoder;
  // `<extra_id_N>` from extra_ids when the file does not list them). Throws TokenizerError.
  static T5Tokenizer from_folder(const std::string& dir);

  // Piece strings (special tokens as their text), without `</s>` (= `tokenizer.tokenize(text)`).
  std::vector<std::string> tokenize(const std::string& text) const;
  // ids + `</s>` unless they already end with it; no truncation or padding (= `tokenizer(text).input_ids`).
  std::vector<int64_t> encode(const std::string& text) const;
  // The first max_length-1 ids, `</s>` (unless they end with it), right-padded with `<pad>` to
  // max_length (= `tokenizer(text, padding="max_length", max_length=n, truncation=True).input_ids`).
  std::vector<int64_t> encode_padded(const std::string& text, int max_length = kDefaultMaxLength) const;
  // Number of ids before `</s>` (> max_length-1: the prompt gets truncated).
  size_t count_tokens(const std::string& text) const;

  int64_t eos_id() const { return eos_id_; }
  int64_t pad_id() const { return pad_id_; }
  int64_t unk_id() const { return unk_id_; }

 private:
  struct Impl;
  struct Chunk {  // a piece of the text: a special token's id, or text for SentencePiece
    int64_t special_id = -1;
    std::string text;
  };
  std::vector<Chunk> split_special(const std::string& text) const;
  std::vector<int64_t> ids(const std::string& text) const;

  std::shared_ptr<const Impl> impl_;
  int64_t eos_id_ = 1;
  int64_t pad_id_ = 0;
  int64_t unk_id_ = 2;
};

}  // namespace sdw
