// T5 tokenizer (see t5_tokenizer.h), following transformers' tokenization_t5.py (slow, legacy) and
// PreTrainedTokenizer.tokenize (added tokens split out with a leftmost-longest match, their
// lstrip/rstrip flags applied to the neighbouring text, empty chunks skipped).
#include "model/tokenizer/t5_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/tokenizer/sentencepiece_module.h"

namespace sdw {

struct T5Tokenizer::Impl {
  struct Special {
    std::string content;
    int64_t id = 0;
    bool lstrip = false, rstrip = false;
  };
  std::shared_ptr<const SentencePieceModel> sp;
  std::vector<Special> specials;
};

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string lstrip(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  return s.substr(i);
}

std::string rstrip(const std::string& s) {
  size_t n = s.size();
  while (n > 0 && is_space(s[n - 1])) --n;
  return s.substr(0, n);
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nlohmann::json::object();
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw TokenizerError("'" + path + "' is not valid JSON: " + e.what());
  }
}

}  // namespace

T5Tokenizer T5Tokenizer::from_folder(const std::string& dir) {
  const std::string model_path = dir + "/spiece.model";
  if (!std::filesystem::is_regular_file(model_path))
    throw TokenizerError("T5 tokenizer folder '" + dir + "' has no spiece.model");
  auto impl = std::make_shared<Impl>();
  impl->sp = SentencePieceModel::load(model_path);
  const nlohmann::json config = read_json(dir + "/tokenizer_config.json");
  // legacy=false would change only the text right after a special token; this port is the legacy
  // tokenizer (transformers' default, and what the ordinary prompts of T5TokenizerFast give).
  T5Tokenizer t;
  auto id_of = [&](const std::string& piece) { return static_cast<int64_t>(impl->sp->piece_to_id(piece)); };
  if (config.contains("added_tokens_decoder") && config["added_tokens_decoder"].is_object()) {
    for (const auto& [id, tok] : config["added_tokens_decoder"].items()) {
      if (!tok.is_object() || !tok.contains("content")) continue;
      impl->specials.push_back({tok["content"].get<std::string>(), std::stoll(id), tok.value("lstrip", false),
                                tok.value("rstrip", false)});
    }
  } else {
    // transformers' T5Tokenizer defaults: <pad>, </s>, <unk> from the model, <extra_id_i> after the pieces.
    for (const char* s : {"<pad>", "</s>", "<unk>"}) impl->specials.push_back({s, id_of(s), false, false});
    const int64_t extra = config.value("extra_ids", 100);
    const int64_t size = impl->sp->piece_size();
    for (int64_t i = 0; i < extra; ++i)
      impl->specials.push_back({"<extra_id_" + std::to_string(i) + ">", size + extra - 1 - i, true, true});
  }
  auto token_name = [&](const char* key, const char* fallback) {
    if (!config.contains(key)) return std::string(fallback);
    const auto& v = config[key];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("content")) return v["content"].get<std::string>();
    return std::string(fallback);
  };
  auto special_id = [&](const std::string& content) {
    for (const auto& s : impl->specials)
      if (s.content == content) return s.id;
    const int64_t id = id_of(content);
    if (id == impl->sp->unk_id() && content != "<unk>")
      throw TokenizerError("T5 tokenizer '" + dir + "': special token '" + content + "' is not in the vocabulary");
    return id;
  };
  t.eos_id_ = special_id(token_name("eos_token", "</s>"));
  t.pad_id_ = special_id(token_name("pad_token", "<pad>"));
  t.unk_id_ = special_id(token_name("unk_token", "<unk>"));
  t.impl_ = std::move(impl);
  return t;
}

std::vector<T5Tokenizer::Chunk> T5Tokenizer::split_special(const std::string& text) const {
  std::vector<Chunk> chunks;
  size_t pos = 0, start = 0;
  std::vector<std::pair<Chunk, const Impl::Special*>> parts;
  while (pos < text.size()) {
    const Impl::Special* best = nullptr;
    for (const auto& s : impl_->specials)
      if (!s.content.empty() && text.compare(pos, s.content.size(), s.content) == 0 &&
          (!best || s.content.size() > best->content.size()))
        best = &s;
    if (!best) {
      ++pos;
      continue;
    }
    parts.push_back({{-1, text.substr(start, pos - start)}, nullptr});
    parts.push_back({{best->id, best->content}, best});
    pos += best->content.size();
    start = pos;
  }
  parts.push_back({{-1, text.substr(start)}, nullptr});
  // An added token's rstrip eats the whitespace after it, lstrip the whitespace before it.
  for (size_t i = 0; i < parts.size(); ++i) {
    const Impl::Special* s = parts[i].second;
    if (!s) continue;
    if (s->rstrip && i + 1 < parts.size() && !parts[i + 1].second) parts[i + 1].first.text = lstrip(parts[i + 1].first.text);
    if (s->lstrip && i > 0 && !parts[i - 1].second) parts[i - 1].first.text = rstrip(parts[i - 1].first.text);
  }
  for (auto& [chunk, special] : parts)
    if (special || !chunk.text.empty()) chunks.push_back(std::move(chunk));
  return chunks;
}

std::vector<std::string> T5Tokenizer::tokenize(const std::string& text) const {
  std::vector<std::string> out;
  for (const Chunk& c : split_special(text)) {
    if (c.special_id >= 0) {
      out.push_back(c.text);
      continue;
    }
    for (auto& p : impl_->sp->encode(c.text)) out.push_back(std::move(p.text));
  }
  return out;
}

std::vector<int64_t> T5Tokenizer::ids(const std::string& text) const {
  std::vector<int64_t> out;
  for (const Chunk& c : split_special(text)) {
    if (c.special_id >= 0) {
      out.push_back(c.special_id);
      continue;
    }
    for (const auto& p : impl_->sp->encode(c.text)) out.push_back(p.id);
  }
  return out;
}

std::vector<int64_t> T5Tokenizer::encode(const std::string& text) const {
  std::vector<int64_t> out = ids(text);
  if (out.empty() || out.back() != eos_id_) out.push_back(eos_id_);
  return out;
}

std::vector<int64_t> T5Tokenizer::encode_padded(const std::string& text, int max_length) const {
  if (max_length < 1) throw TokenizerError("T5 tokenizer: max_length must be at least 1");
  std::vector<int64_t> out = ids(text);
  if (out.size() > static_cast<size_t>(max_length - 1)) out.resize(max_length - 1);
  if (out.empty() || out.back() != eos_id_) out.push_back(eos_id_);
  out.resize(max_length, pad_id_);
  return out;
}

size_t T5Tokenizer::count_tokens(const std::string& text) const { return ids(text).size(); }

}  // namespace sdw
