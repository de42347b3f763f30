// Byte-level BPE model of the CLIP tokenizer (vocab.json + merges.txt loading and the merge
// loop). See bpe.h.
#include "model/tokenizer/bpe.h"

#include <algorithm>
#include <climits>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "model/tokenizer/clip_tokenizer.h"
#include "model/tokenizer/unicode.h"

namespace sdw::tok {

namespace {

// transformers' CLIPTokenizer keeps merges[1 : 49152 - 256 - 2 + 1] of merges.txt.
constexpr size_t kMaxMerges = 49152 - 256 - 2;

std::string read_file(const std::string& path, const char* what) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw TokenizerError(std::string("cannot read tokenizer ") + what + " '" + path + "': not a regular file");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  if (!in.good() && !in.eof()) {
    throw TokenizerError(std::string("cannot read tokenizer ") + what + " '" + path + "'");
  }
  return buf.str();
}

// GPT-2 / CLIP bytes_to_unicode(): printable Latin-1 bytes map to themselves, the others to
// U+0100.. in byte order.
std::string byte_to_unicode(int byte) {
  static const auto table = [] {
    std::vector<char32_t> t(256);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      t[b] = printable ? static_cast<char32_t>(b) : next++;
    }
    return t;
  }();
  std::string out;
  append_utf8(out, table[byte]);
  return out;
}

struct HeapEntry {
  int32_t rank;
  int32_t pos;    // node index of the left symbol (node order = text order)
  int32_t left;   // the pair's symbols when it was queued (stale entries are skipped)
  int32_t right;
  bool operator>(const HeapEntry& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

}  // namespace

BpeModel::BpeModel(const std::string& vocab_json_path, const std::string& merges_txt_path) {
  // vocab.json: {"token": id, ...}
  const std::string vocab_text = read_file(vocab_json_path, "vocab file");
  nlohmann::json vocab_json;
  try {
    vocab_json = nlohmann::json::parse(vocab_text);
  } catch (const nlohmann::json::exception& e) {
    throw TokenizerError("malformed tokenizer vocab file '" + vocab_json_path + "': " + e.what());
  }
  if (!vocab_json.is_object() || vocab_json.empty()) {
    throw TokenizerError("malformed tokenizer vocab file '" + vocab_json_path + "': expected a non-empty JSON object");
  }
  vocab_.reserve(vocab_json.size());
  for (const auto& item : vocab_json.items()) {
    const auto& v = item.value();
    bool ok = false;
    int64_t id = -1;
    if (v.is_number_unsigned()) {
      ok = v.get<uint64_t>() <= static_cast<uint64_t>(INT32_MAX);
      id = ok ? static_cast<int64_t>(v.get<uint64_t>()) : -1;
    } else if (v.is_number_integer()) {
      id = v.get<int64_t>();
      ok = id >= 0 && id <= INT32_MAX;
    }
    if (!ok || item.key().empty()) {
      throw TokenizerError("malformed tokenizer vocab file '" + vocab_json_path + "': entry \"" + item.key() +
                           "\" needs a non-empty token and an integer id in [0, 2^31)");
    }
    vocab_[item.key()] = id;
  }

  // The 256 byte symbols and their end-of-word forms.
  for (int b = 0; b < 256; ++b) {
    const std::string ch = byte_to_unicode(b);
    byte_symbol_[b] = intern(ch);
    byte_end_symbol_[b] = intern(ch + "</w>");
  }

  // merges.txt: "#version: ..." then one "left right" pair per line (read().strip().split("\n")).
  const std::string merges_bytes = read_file(merges_txt_path, "merges file");
  std::u32string merges_text;
  try {
    merges_text = decode_utf8(merges_bytes);
  } catch (const TokenizerError& e) {
    throw TokenizerError("malformed tokenizer merges file '" + merges_txt_path + "': " + e.what());
  }
  size_t begin = 0, end = merges_text.size();
  while (begin < end && is_py_space(merges_text[begin])) ++begin;
  while (end > begin && is_py_space(merges_text[end - 1])) --end;
  const std::u32string_view body(merges_text.data() + begin, end - begin);
  auto malformed = [&](size_t line, const std::string& why) {
    return TokenizerError("malformed tokenizer merges file '" + merges_txt_path + "' line " + std::to_string(line) +
                          ": " + why);
  };
  if (body.substr(0, 8) != U"#version") throw malformed(1, "expected a '#version' header");

  size_t line_no = 0;
  size_t pos = 0;
  merges_.reserve(kMaxMerges * 2);
  while (pos <= body.size() && merge_count_ < kMaxMerges) {
    size_t nl = body.find(U'\n', pos);
    if (nl == std::u32string_view::npos) nl = body.size();
    const std::u32string_view line = body.substr(pos, nl - pos);
    pos = nl + 1;
    if (++line_no == 1) {
      if (pos > body.size()) break;
      continue;  // header
    }
    std::vector<std::u32string_view> parts;
    for (size_t i = 0; i < line.size();) {
      while (i < line.size() && is_py_space(line[i])) ++i;
      const size_t s = i;
      while (i < line.size() && !is_py_space(line[i])) ++i;
      if (i > s) parts.push_back(line.substr(s, i - s));
    }
    if (parts.size() != 2) throw malformed(line_no, "expected two space-separated symbols");
    const int32_t a = intern(encode_utf8(parts[0]));
    const int32_t b = intern(encode_utf8(parts[1]));
    const int32_t merged = intern(symbol_text_[a] + symbol_text_[b]);
    // dict(zip(merges, range(...))): a repeated pair keeps its last rank.
    merges_[(static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b)] =
        Merge{static_cast<int32_t>(merge_count_), merged};
    ++merge_count_;
  }
  if (merge_count_ == 0) throw malformed(line_no, "no merge rules");

  symbol_vocab_id_.resize(symbol_text_.size());
  for (size_t i = 0; i < symbol_text_.size(); ++i) symbol_vocab_id_[i] = vocab_id(symbol_text_[i]);
}

int32_t BpeModel::intern(const std::string& text) {
  auto it = symbol_index_.find(text);
  if (it != symbol_index_.end()) return it->second;
  const auto id = static_cast<int32_t>(symbol_text_.size());
  symbol_index_.emplace(text, id);
  symbol_text_.push_back(text);
  return id;
}

const BpeModel::Merge* BpeModel::find_merge(int32_t a, int32_t b) const {
  auto it = merges_.find((static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b));
  return it == merges_.end() ? nullptr : &it->second;
}

int64_t BpeModel::vocab_id(const std::string& token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

// CLIPTokenizer.bpe: repeatedly take the lowest-ranked adjacent pair and merge all of its
// occurrences left to right (non-overlapping), until no pair has a rank. Done with a heap over
// (rank, position) in O(n log n); each round pops every entry of the lowest rank first, so pairs
// created during a round wait for the next round exactly as in the Python loop.
void BpeModel::encode_word(std::string_view bytes, std::vector<int32_t>& symbols) const {
  const size_t n = bytes.size();
  if (n == 0) return;
  std::vector<int32_t> sym(n), next(n), prev(n);
  for (size_t i = 0; i < n; ++i) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    sym[i] = i + 1 == n ? byte_end_symbol_[b] : byte_symbol_[b];
    next[i] = i + 1 == n ? -1 : static_cast<int32_t>(i + 1);
    prev[i] = static_cast<int32_t>(i) - 1;
  }
  std::vector<HeapEntry> heap;
  auto push = [&](int32_t p) {
    if (p < 0 || next[p] < 0) return;
    if (const Merge* m = find_merge(sym[p], sym[next[p]])) {
      heap.push_back(HeapEntry{m->rank, p, sym[p], sym[next[p]]});
      std::push_heap(heap.begin(), heap.end(), std::greater<HeapEntry>());
    }
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));

  std::vector<HeapEntry> round;
  while (!heap.empty()) {
    round.clear();
    const int32_t rank = heap.front().rank;
    while (!heap.empty() && heap.front().rank == rank) {
      std::pop_heap(heap.begin(), heap.end(), std::greater<HeapEntry>());
      round.push_back(heap.back());
      heap.pop_back();
    }
    for (const HeapEntry& e : round) {
      const int32_t p = e.pos;
      const int32_t q = next[p];
      // Stale: p was absorbed (sym[p] = -1), or p or its neighbour changed since queued.
      if (sym[p] != e.left || q < 0 || sym[q] != e.right) continue;
      sym[p] = find_merge(e.left, e.right)->merged;
      sym[q] = -1;
      next[p] = next[q];
      if (next[q] >= 0) prev[next[q]] = p;
      push(prev[p]);
      push(p);
    }
  }
  for (int32_t p = 0; p >= 0; p = next[p]) symbols.push_back(sym[p]);
}

}  // namespace sdw::tok
