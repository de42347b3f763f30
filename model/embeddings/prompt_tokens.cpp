// Prompt tokens with embedding slots, and their encoding.
#include "model/embeddings/prompt_tokens.h"

#include <algorithm>
#include <cctype>

namespace sdw {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Letters, digits, '_' and any non-ASCII byte (part of a UTF-8 letter) continue a word.
bool word_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || std::isalnum(u) || c == '_';
}

struct Pattern {
  std::string text;  // lowercase
  const TextualInversion* embedding;
};

}  // namespace

std::vector<EmbeddingMatch> find_embedding_names(const std::string& text, const EmbeddingSet& embeddings) {
  std::vector<Pattern> patterns;
  for (const auto& e : embeddings) {
    if (!e->name.empty()) patterns.push_back({lower(e->name), e.get()});
    if (!e->token.empty() && lower(e->token) != lower(e->name)) patterns.push_back({lower(e->token), e.get()});
  }
  std::stable_sort(patterns.begin(), patterns.end(), [](const Pattern& a, const Pattern& b) { return a.text.size() > b.text.size(); });
  const std::string low = lower(text);
  std::vector<EmbeddingMatch> out;
  for (size_t i = 0; i < low.size();) {
    const Pattern* hit = nullptr;
    for (const Pattern& p : patterns) {
      const size_t n = p.text.size();
      if (low.compare(i, n, p.text) != 0) continue;
      if (word_char(p.text.front()) && i > 0 && word_char(low[i - 1])) continue;
      if (word_char(p.text.back()) && i + n < low.size() && word_char(low[i + n])) continue;
      hit = &p;
      break;
    }
    if (!hit) {
      ++i;
      continue;
    }
    out.push_back({i, i + hit->text.size(), hit->embedding});
    i += hit->text.size();
  }
  return out;
}

namespace {

// The content ids of a piece of text (no BOS/EOS).
std::vector<int64_t> content_ids(const ClipTokenizer& tokenizer, const std::string& text) {
  std::vector<int64_t> ids = tokenizer.encode(text);
  return std::vector<int64_t>(ids.begin() + 1, ids.end() - 1);
}

}  // namespace

PromptTokens tokenize_prompt(const ClipTokenizer& tokenizer, const std::string& text, const EmbeddingSet& embeddings) {
  PromptTokens out;
  const std::vector<EmbeddingMatch> matches = find_embedding_names(text, embeddings);
  if (matches.empty()) {
    out.ids = tokenizer.encode_padded(text);
    return out;
  }
  const int64_t max_content = ClipTokenizer::kMaxLength - 2;
  std::vector<int64_t> content;
  size_t at = 0;
  for (const EmbeddingMatch& m : matches) {
    for (int64_t id : content_ids(tokenizer, text.substr(at, m.begin - at))) content.push_back(id);
    if (std::find(out.used.begin(), out.used.end(), m.embedding->name) == out.used.end()) out.used.push_back(m.embedding->name);
    for (int64_t v = 0; v < m.embedding->num_vectors(); ++v) {
      if (static_cast<int64_t>(content.size()) < max_content)
        out.slots.push_back({static_cast<int64_t>(content.size()) + 1, m.embedding, v});  // +1: after BOS
      content.push_back(0);
    }
    at = m.end;
  }
  for (int64_t id : content_ids(tokenizer, text.substr(at))) content.push_back(id);
  if (static_cast<int64_t>(content.size()) > max_content) content.resize(max_content);
  out.ids.push_back(tokenizer.bos_id());
  out.ids.insert(out.ids.end(), content.begin(), content.end());
  out.ids.push_back(tokenizer.eos_id());
  out.ids.resize(ClipTokenizer::kMaxLength, tokenizer.pad_id());
  return out;
}

CLIPTextOutput encode_prompt_tokens(CLIPTextModel& encoder, const PromptTokens& tokens, bool second_encoder,
                                    const at::Device& device) {
  at::Tensor ids = at::tensor(tokens.ids, at::kLong).unsqueeze(0).to(device);  // [1, 77]
  if (tokens.slots.empty()) return encoder->forward(ids);
  at::Tensor rows = encoder->text_model->token_embedding->forward(ids).clone();  // [1, 77, H]
  for (const EmbeddingSlot& s : tokens.slots) {
    const at::Tensor& vectors = second_encoder ? s.embedding->vectors_2 : s.embedding->vectors;  // [n, H]
    rows[0][s.position].copy_(vectors[s.vector]);
  }
  return encoder->forward(ids, rows);
}

}  // namespace sdw
