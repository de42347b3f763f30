// AUTOMATIC1111's prompt attention syntax and chunking (see a1111_prompt.h).
#include "model/prompt/a1111_prompt.h"

#include <regex>
#include <stdexcept>
#include <string>

namespace sdw {
namespace {

// prompt_parser.py's re_attention, alternative for alternative (ECMAScript alternation is
// leftmost-first, as Python's).
const std::regex& attention_re() {
  static const std::regex re(
      R"(\\\(|\\\)|\\\[|\\\]|\\\\|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|\]|[^\\()\[\]:]+|:)");
  return re;
}

const std::regex& break_re() {
  static const std::regex re(R"(\s*\bBREAK\b\s*)");
  return re;
}

// Python's float() for the weight group ([+-]?[.\d]+): "1.", ".5"; "1.2.3" or "." is a ValueError
// in A1111 that fails the prompt, here an std::invalid_argument naming the weight.
double parse_weight(const std::string& text) {
  size_t used = 0;
  double out = 0;
  try {
    out = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) throw std::invalid_argument("prompt: '" + text + "' is not an attention weight");
  return out;
}

}  // namespace

std::vector<WeightedText> parse_prompt_attention(const std::string& prompt) {
  std::vector<WeightedText> res;
  std::vector<size_t> round, square;
  const double round_mult = 1.1, square_mult = 1 / 1.1;
  auto multiply_range = [&res](size_t start, double m) {
    for (size_t p = start; p < res.size(); ++p) res[p].weight *= m;
  };
  for (auto it = std::sregex_iterator(prompt.begin(), prompt.end(), attention_re()); it != std::sregex_iterator(); ++it) {
    const std::string text = (*it)[0].str();
    const bool has_weight = (*it)[1].matched;
    if (text[0] == '\\') {
      res.push_back({text.substr(1), 1.0});
    } else if (text == "(") {
      round.push_back(res.size());
    } else if (text == "[") {
      square.push_back(res.size());
    } else if (has_weight && !round.empty()) {
      multiply_range(round.back(), parse_weight((*it)[1].str()));
      round.pop_back();
    } else if (text == ")" && !round.empty()) {
      multiply_range(round.back(), round_mult);
      round.pop_back();
    } else if (text == "]" && !square.empty()) {
      multiply_range(square.back(), square_mult);
      square.pop_back();
    } else {
      // re.split(re_break, text): the pieces between BREAKs, each one kept even when empty
      size_t at = 0;
      bool first = true;
      for (auto b = std::sregex_iterator(text.begin(), text.end(), break_re()); b != std::sregex_iterator(); ++b) {
        if (!first) res.push_back({"BREAK", -1});
        res.push_back({text.substr(at, static_cast<size_t>(b->position()) - at), 1.0});
        at = static_cast<size_t>(b->position() + b->length());
        first = false;
      }
      if (!first) res.push_back({"BREAK", -1});
      res.push_back({text.substr(at), 1.0});
    }
  }
  for (size_t pos : round) multiply_range(pos, round_mult);
  for (size_t pos : square) multiply_range(pos, square_mult);
  if (res.empty()) res.push_back({"", 1.0});
  for (size_t i = 0; i + 1 < res.size();) {
    if (res[i].weight == res[i + 1].weight) {
      res[i].text += res[i + 1].text;
      res.erase(res.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    } else {
      ++i;
    }
  }
  return res;
}

std::vector<PromptChunk> prompt_chunks(const std::vector<WeightedText>& pieces,
                                       const std::vector<std::vector<int>>& tokens, const ChunkIds& ids) {
  std::vector<std::vector<PromptItem>> items;
  for (const auto& piece : tokens) {
    items.emplace_back();
    for (int token : piece) items.back().push_back({token, -1, 0});
  }
  return prompt_item_chunks(pieces, items, ids);
}

std::vector<PromptChunk> prompt_item_chunks(const std::vector<WeightedText>& pieces,
                                            const std::vector<std::vector<PromptItem>>& items, const ChunkIds& ids) {
  if (pieces.size() != items.size()) throw std::invalid_argument("prompt_chunks: one tokenization per piece");
  std::vector<PromptChunk> chunks;
  PromptChunk chunk;
  int last_comma = -1;
  const size_t length = static_cast<size_t>(ids.chunk_length);
  auto next_chunk = [&] {
    const size_t to_add = length > chunk.tokens.size() ? length - chunk.tokens.size() : 0;
    chunk.tokens.insert(chunk.tokens.end(), to_add, ids.eos);
    chunk.multipliers.insert(chunk.multipliers.end(), to_add, 1.0);
    chunk.tokens.insert(chunk.tokens.begin(), ids.bos);
    chunk.tokens.push_back(ids.eos);
    chunk.multipliers.insert(chunk.multipliers.begin(), 1.0);
    chunk.multipliers.push_back(1.0);
    for (ChunkFix& f : chunk.fixes) f.position += 1;  // after BOS
    last_comma = -1;
    chunks.push_back(std::move(chunk));
    chunk = PromptChunk();
  };
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (pieces[i].is_break()) {
      next_chunk();
      continue;
    }
    for (const PromptItem& item : items[i]) {
      const int token = item.embedding >= 0 ? 0 : item.token;
      if (item.embedding < 0 && token == ids.comma) {
        last_comma = static_cast<int>(chunk.tokens.size());
      } else if (ids.comma_backtrack != 0 && chunk.tokens.size() == length && last_comma != -1 &&
                 static_cast<int>(chunk.tokens.size()) - last_comma <= ids.comma_backtrack) {
        // 1. the words after the last comma move to the next chunk
        const int at = last_comma + 1;
        std::vector<int> moved(chunk.tokens.begin() + at, chunk.tokens.end());
        std::vector<double> moved_m(chunk.multipliers.begin() + at, chunk.multipliers.end());
        std::vector<ChunkFix> moved_f;
        for (auto f = chunk.fixes.begin(); f != chunk.fixes.end();) {
          if (f->position >= at) {
            moved_f.push_back({f->position - at, f->embedding, f->vectors});
            f = chunk.fixes.erase(f);
          } else {
            ++f;
          }
        }
        chunk.tokens.resize(static_cast<size_t>(at));
        chunk.multipliers.resize(static_cast<size_t>(at));
        next_chunk();
        chunk.tokens = std::move(moved);
        chunk.multipliers = std::move(moved_m);
        chunk.fixes = std::move(moved_f);
      }
      if (chunk.tokens.size() == length) next_chunk();
      if (item.embedding < 0) {
        chunk.tokens.push_back(token);
        chunk.multipliers.push_back(pieces[i].weight);
        continue;
      }
      // 2. an embedding: all its slots in one chunk
      if (item.vectors < 1 || static_cast<size_t>(item.vectors) > length)
        throw std::invalid_argument("prompt: an embedding of " + std::to_string(item.vectors) + " vectors does not fit in a chunk of " +
                                    std::to_string(length) + " tokens");
      if (chunk.tokens.size() + static_cast<size_t>(item.vectors) > length) next_chunk();
      chunk.fixes.push_back({static_cast<int>(chunk.tokens.size()), item.embedding, item.vectors});
      chunk.tokens.insert(chunk.tokens.end(), static_cast<size_t>(item.vectors), 0);
      chunk.multipliers.insert(chunk.multipliers.end(), static_cast<size_t>(item.vectors), pieces[i].weight);
    }
  }
  if (!chunk.tokens.empty() || chunks.empty()) next_chunk();
  return chunks;
}

}  // namespace sdw
