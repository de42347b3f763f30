// CLIP tokenizer (transformers' slow CLIPTokenizer without ftfy): added-token split, BasicTokenizer
// normalisation, the CLIP pre-tokenizer regex as a code-point scanner, cached BPE, BOS/EOS,
// truncation and padding. See clip_tokenizer.h.
#include "model/tokenizer/clip_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

#include "model/tokenizer/bpe.h"
#include "model/tokenizer/unicode.h"

namespace sdw {

namespace {

constexpr const char* kBosToken = "<|startoftext|>";
constexpr const char* kEosToken = "<|endoftext|>";
constexpr const char* kUnkToken = "<|endoftext|>";
constexpr size_t kCacheMaxEntries = 1 << 16;
constexpr size_t kCacheMaxWordBytes = 128;

// Case-insensitive equality of a text code point with a lower-case ASCII pattern character, as
// Python's regex IGNORECASE (simple case folding: also U+017F long s ~ 's', U+212A Kelvin ~ 'k').
bool ci_equal(char32_t c, char32_t p) {
  if (c == p) return true;
  if (p >= U'a' && p <= U'z' && c == p - 32) return true;
  return (p == U's' && c == 0x017F) || (p == U'k' && c == 0x212A);
}

bool match_ci(std::u32string_view s, size_t i, std::u32string_view pattern) {
  if (s.size() - i < pattern.size()) return false;
  for (size_t k = 0; k < pattern.size(); ++k) {
    if (!ci_equal(s[i + k], pattern[k])) return false;
  }
  return true;
}

// The CLIP pre-tokenizer: re.findall(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|
// [\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+", text, re.IGNORECASE); calls emit(begin, end) per match.
template <typename Emit>
void clip_pretokenize(std::u32string_view s, Emit&& emit) {
  static constexpr std::u32string_view kSpecials[] = {U"<|startoftext|>", U"<|endoftext|>"};
  static constexpr std::u32string_view kContractions[] = {U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"};
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const char32_t c = s[i];
    size_t len = 0;
    if (c == U'<') {
      for (auto sp : kSpecials) {
        if (match_ci(s, i, sp)) {
          len = sp.size();
          break;
        }
      }
    } else if (c == U'\'') {
      for (auto ct : kContractions) {
        if (match_ci(s, i, ct)) {
          len = ct.size();
          break;
        }
      }
    }
    if (len == 0) {
      if (tok::is_letter(c)) {
        while (i + len < n && tok::is_letter(s[i + len])) ++len;
      } else if (tok::is_number(c)) {
        len = 1;
      } else if (tok::is_py_space(c)) {
        ++i;
        continue;
      } else {
        while (i + len < n) {
          const char32_t d = s[i + len];
          if (tok::is_py_space(d) || tok::is_letter(d) || tok::is_number(d)) break;
          ++len;
        }
      }
    }
    emit(i, i + len);
    i += len;
  }
}

std::optional<std::string> read_pad_token(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  if (!in) throw TokenizerError("cannot read tokenizer file '" + path + "'");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(buf.str());
  } catch (const nlohmann::json::exception& e) {
    throw TokenizerError("malformed tokenizer file '" + path + "': " + e.what());
  }
  if (!j.is_object()) throw TokenizerError("malformed tokenizer file '" + path + "': expected a JSON object");
  auto it = j.find("pad_token");
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto content = it->find("content");
    if (content != it->end() && content->is_string()) return content->get<std::string>();
  }
  throw TokenizerError("malformed tokenizer file '" + path +
                       "': pad_token must be a string or an AddedToken object with a \"content\" string");
}

}  // namespace

struct ClipTokenizer::Impl {
  Impl(const std::string& vocab, const std::string& merges) : bpe(vocab, merges) {}

  tok::BpeModel bpe;
  // Added tokens split out of the raw text before normalisation, longest first: (content, id).
  std::vector<std::pair<std::u32string, int64_t>> added;
  int64_t unk_id = 0;
  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;

  int64_t require_id(const std::string& token, const char* role) const {
    const int64_t id = bpe.vocab_id(token);
    if (id < 0) throw TokenizerError(std::string("tokenizer vocab lacks the ") + role + " token \"" + token + "\"");
    return id;
  }

  std::vector<int32_t> bpe_word(const std::string& bytes) const {
    const bool cacheable = bytes.size() <= kCacheMaxWordBytes;
    if (cacheable) {
      std::lock_guard<std::mutex> lock(cache_mutex);
      auto it = cache.find(bytes);
      if (it != cache.end()) return it->second;
    }
    std::vector<int32_t> symbols;
    bpe.encode_word(bytes, symbols);
    if (cacheable) {
      std::lock_guard<std::mutex> lock(cache_mutex);
      if (cache.size() >= kCacheMaxEntries) cache.clear();
      cache.emplace(bytes, symbols);
    }
    return symbols;
  }

  // CLIPTokenizer._tokenize of one text piece that holds no added token.
  void tokenize_piece(std::u32string_view piece, std::vector<std::string>* tokens, std::vector<int64_t>* ids) const {
    const std::u32string text = tok::basic_normalize(piece);
    std::string bytes;
    clip_pretokenize(text, [&](size_t b, size_t e) {
      bytes.clear();
      for (size_t k = b; k < e; ++k) tok::append_utf8(bytes, text[k]);
      if (bytes == kBosToken || bytes == kEosToken) {  // the bpe cache returns these unchanged
        if (tokens) tokens->push_back(bytes);
        if (ids) {
          const int64_t id = bpe.vocab_id(bytes);
          ids->push_back(id >= 0 ? id : unk_id);
        }
        return;
      }
      for (int32_t sym : bpe_word(bytes)) {
        if (tokens) tokens->push_back(bpe.symbol_text(sym));
        if (ids) {
          const int64_t id = bpe.symbol_vocab_id(sym);
          ids->push_back(id >= 0 ? id : unk_id);
        }
      }
    });
  }

  // PreTrainedTokenizer.tokenize: split the added tokens out of the raw text, BPE the rest.
  void run(const std::string& utf8, std::vector<std::string>* tokens, std::vector<int64_t>* ids) const {
    const std::u32string text = tok::decode_utf8(utf8);
    const std::u32string_view view(text);
    size_t piece_start = 0;
    for (size_t i = 0; i < text.size();) {
      const std::pair<std::u32string, int64_t>* hit = nullptr;
      for (const auto& a : added) {
        if (text.compare(i, a.first.size(), a.first) == 0) {
          hit = &a;
          break;
        }
      }
      if (!hit) {
        ++i;
        continue;
      }
      if (i > piece_start) tokenize_piece(view.substr(piece_start, i - piece_start), tokens, ids);
      if (tokens) tokens->push_back(tok::encode_utf8(hit->first));
      if (ids) ids->push_back(hit->second);
      i += hit->first.size();
      piece_start = i;
    }
    if (text.size() > piece_start) tokenize_piece(view.substr(piece_start), tokens, ids);
  }
};

ClipTokenizer ClipTokenizer::from_folder(const std::string& dir) {
  const std::filesystem::path d(dir);
  std::optional<std::string> pad = read_pad_token((d / "special_tokens_map.json").string());
  if (!pad) pad = read_pad_token((d / "tokenizer_config.json").string());
  return ClipTokenizer((d / "vocab.json").string(), (d / "merges.txt").string(), pad.value_or(kEosToken));
}

ClipTokenizer::ClipTokenizer(const std::string& vocab_json_path, const std::string& merges_txt_path,
                             const std::string& pad_token)
    : pad_token_(pad_token) {
  auto impl = std::make_shared<Impl>(vocab_json_path, merges_txt_path);
  bos_id_ = impl->require_id(kBosToken, "bos");
  eos_id_ = impl->require_id(kEosToken, "eos");
  impl->unk_id = impl->require_id(kUnkToken, "unk");
  if (pad_token.empty()) throw TokenizerError("the tokenizer pad token must not be empty");
  tok::decode_utf8(pad_token);  // a pad token given by the caller must be valid UTF-8
  pad_id_ = impl->require_id(pad_token, "pad");
  for (const std::string& t : {std::string(kBosToken), std::string(kEosToken), pad_token}) {
    std::u32string content = tok::decode_utf8(t);
    auto same = [&](const auto& a) { return a.first == content; };
    if (std::none_of(impl->added.begin(), impl->added.end(), same)) {
      impl->added.emplace_back(std::move(content), impl->bpe.vocab_id(t));
    }
  }
  std::stable_sort(impl->added.begin(), impl->added.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  impl_ = std::move(impl);
}

std::vector<std::string> ClipTokenizer::tokenize(const std::string& text) const {
  std::vector<std::string> tokens;
  impl_->run(text, &tokens, nullptr);
  return tokens;
}

std::vector<int64_t> ClipTokenizer::encode(const std::string& text) const {
  std::vector<int64_t> ids{bos_id_};
  impl_->run(text, nullptr, &ids);
  ids.push_back(eos_id_);
  return ids;
}

std::vector<int64_t> ClipTokenizer::encode_padded(const std::string& text, int max_length) const {
  if (max_length < 2) {
    throw TokenizerError("encode_padded: max_length must be at least 2 (BOS + EOS), got " + std::to_string(max_length));
  }
  std::vector<int64_t> content;
  impl_->run(text, nullptr, &content);
  const size_t keep = std::min(content.size(), static_cast<size_t>(max_length - 2));
  std::vector<int64_t> ids;
  ids.reserve(static_cast<size_t>(max_length));
  ids.push_back(bos_id_);
  ids.insert(ids.end(), content.begin(), content.begin() + static_cast<std::ptrdiff_t>(keep));
  ids.push_back(eos_id_);
  ids.resize(static_cast<size_t>(max_length), pad_id_);
  return ids;
}

size_t ClipTokenizer::count_tokens(const std::string& text) const {
  std::vector<int64_t> ids;
  impl_->run(text, nullptr, &ids);
  return ids.size();
}

}  // namespace sdw
