// AUTOMATIC1111's prompt syntax, ported from its modules/prompt_parser.py
// (parse_prompt_attention) and modules/sd_hijack_clip.py (tokenize_line): attention weights
// `(word)` x1.1, `[word]` / 1.1, `(word:1.3)`, `\(` `\)` `\[` `\]` `\\` escapes, unbalanced
// brackets closed at the end, `BREAK`; and the split of a prompt's tokens into 75-token chunks
// (each encoded alone between BOS and EOS and concatenated), which moves the words after the last
// comma of a full chunk into the next one when that comma is within 20 tokens of its end. Pure
// C++ (no tokenizer, no tensors): the caller tokenizes each piece and encodes the chunks.
#pragma once

#include <string>
#include <vector>

namespace sdw {

struct WeightedText {
  std::string text;
  double weight = 1.0;  // -1 with text "BREAK": a chunk break
  bool is_break() const { return weight == -1 && text == "BREAK"; }
};

// Pieces of `prompt` with their weights, runs of equal weight merged; [{"", 1}] for an empty one.
// A weight that is not a number ("(a:1.2.3)") is an std::invalid_argument, as A1111 fails on it.
std::vector<WeightedText> parse_prompt_attention(const std::string& prompt);

// A textual-inversion embedding placed in a chunk (A1111's PromptChunkFix): its `vectors` slots
// start at `position` of the 77 (BOS is 0) and hold token 0.
struct ChunkFix {
  int position = 0;
  int embedding = 0;  // the caller's index (PromptItem::embedding)
  int vectors = 0;
};

struct PromptChunk {
  std::vector<int> tokens;         // 77: BOS, 75 tokens (padded with EOS), EOS
  std::vector<double> multipliers; // one per token (1 for BOS, EOS and padding)
  std::vector<ChunkFix> fixes;     // embeddings in this chunk, in order
};

// One token of a piece, or (embedding >= 0) an embedding that takes `vectors` token slots.
struct PromptItem {
  int token = 0;
  int embedding = -1;
  int vectors = 0;
};

struct ChunkIds {
  int bos = 49406, eos = 49407, comma = 267;  // CLIP's <|startoftext|>, <|endoftext|>, ","
  int chunk_length = 75;
  int comma_backtrack = 20;  // A1111's comma_padding_backtrack setting (its default)
};

// A1111's tokenize_line: `tokens[i]` is the tokenization (without BOS/EOS) of `pieces[i].text`.
// Always at least one chunk.
std::vector<PromptChunk> prompt_chunks(const std::vector<WeightedText>& pieces,
                                       const std::vector<std::vector<int>>& tokens, const ChunkIds& ids = {});
// The same with embeddings among the tokens: an embedding that does not fit in the rest of the
// chunk starts the next one (A1111: `len(chunk.tokens) + emb_len > chunk_length`). Where the comma
// backtrack moves an embedding's slots to the next chunk, its fix moves with them (A1111 leaves
// the fix behind, so the moved slots would encode token 0 and the old chunk's padding would get
// the vectors: a defect not copied here).
std::vector<PromptChunk> prompt_item_chunks(const std::vector<WeightedText>& pieces,
                                            const std::vector<std::vector<PromptItem>>& items, const ChunkIds& ids = {});

}  // namespace sdw
