// A prompt's tokens with textual-inversion embeddings in it: each embedding name the prompt says
// (A1111: the file name; diffusers files also their token) becomes that embedding's vectors, one
// token slot each, and the text around it is tokenized as usual. Without a name in the prompt
// the ids are exactly ClipTokenizer::encode_padded's.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "model/embeddings/textual_inversion.h"
#include "model/nets/clip_text_model.h"
#include "model/tokenizer/clip_tokenizer.h"

namespace sdw {

using EmbeddingSet = std::vector<std::shared_ptr<const TextualInversion>>;

struct EmbeddingSlot {
  int64_t position = 0;              // index in the 77 ids
  const TextualInversion* embedding = nullptr;
  int64_t vector = 0;                // which of its vectors
};

struct PromptTokens {
  // BOS + up to 75 content ids + EOS, padded to 77. An embedding's slots hold id 0 (a real id, so
  // the pooling at the EOS token finds the same place as without embeddings).
  std::vector<int64_t> ids;
  std::vector<EmbeddingSlot> slots;  // in position order; slots past the 75th token are cut, as text is
  std::vector<std::string> used;     // names of the embeddings the prompt says, in order of first use
};

struct EmbeddingMatch {
  size_t begin = 0, end = 0;  // byte range of the name in the text
  const TextualInversion* embedding = nullptr;
};

// Where the embeddings' names occur in `text` (the rule tokenize_prompt uses below).
std::vector<EmbeddingMatch> find_embedding_names(const std::string& text, const EmbeddingSet& embeddings);

// Where the embeddings' names occur in `text` (case-insensitively, as whole words: a name that
// begins or ends with a letter, digit or '_' must not continue a longer word there), longest
// name first. An empty set, or no name in the text, gives encode_padded's ids and no slots.
PromptTokens tokenize_prompt(const ClipTokenizer& tokenizer, const std::string& text, const EmbeddingSet& embeddings);

// The text encoder's output for the tokens: the token-embedding rows of the slots replaced by the
// embedding's vectors (`second_encoder`: SDXL's text_encoder_2, which takes `vectors_2`).
CLIPTextOutput encode_prompt_tokens(CLIPTextModel& encoder, const PromptTokens& tokens, bool second_encoder,
                                    const at::Device& device);

}  // namespace sdw
