// CLIP byte-level BPE tokenizer (transformers' CLIPTokenizer, slow path without ftfy), reading
// the Hugging Face `vocab.json` + `merges.txt` of a diffusers `tokenizer/` folder.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace sdw {

class TokenizerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ClipTokenizer {
 public:
  static constexpr int kMaxLength = 77;

  // Reads vocab.json, merges.txt and the pad token (special_tokens_map.json or
  // tokenizer_config.json: "<|endoftext|>" for SD1.x, "!" for SD2.x) from a tokenizer folder.
  static ClipTokenizer from_folder(const std::string& dir);
  ClipTokenizer(const std::string& vocab_json_path, const std::string& merges_txt_path,
                const std::string& pad_token = "<|endoftext|>");

  // BPE token strings of the text, without BOS/EOS (e.g. "a</w>", "photo</w>").
  std::vector<std::string> tokenize(const std::string& text) const;
  // BOS + ids + EOS, no truncation, no padding (= transformers `tokenizer(text).input_ids`).
  std::vector<int64_t> encode(const std::string& text) const;
  // Truncated to max_length (BOS + first max_length-2 ids + EOS) and right-padded with the pad id
  // (= `tokenizer(text, padding="max_length", max_length=77, truncation=True).input_ids`).
  std::vector<int64_t> encode_padded(const std::string& text, int max_length = kMaxLength) const;
  // Number of content tokens (without BOS/EOS); > max_length-2 means the prompt gets truncated.
  size_t count_tokens(const std::string& text) const;

  int64_t bos_id() const { return bos_id_; }
  int64_t eos_id() const { return eos_id_; }
  int64_t pad_id() const { return pad_id_; }
  const std::string& pad_token() const { return pad_token_; }

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
  int64_t bos_id_ = 49406;
  int64_t eos_id_ = 49407;
  int64_t pad_id_ = 49407;
  std::string pad_token_;
};

}  // namespace sdw
