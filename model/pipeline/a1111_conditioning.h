// AUTOMATIC1111's prompt conditioning (modules/sd_hijack_clip.py,
// FrozenCLIPEmbedderWithCustomWordsBase, with the "Original" emphasis of modules/sd_emphasis.py),
// used for requests with PromptSyntax::a1111 (the /sdapi/v1 routes, generate --prompt-syntax):
//   1. parse_prompt_attention splits the prompt into weighted pieces (model/prompt/a1111_prompt.h);
//      each piece is tokenized alone, textual-inversion names becoming their vectors' slots;
//   2. tokenize_line cuts the tokens into chunks of 75 (comma backtrack 20, BREAK), each
//      BOS + 75 + EOS, padded with EOS, and for a tokenizer whose pad is not EOS (SD2, SDXL's
//      text_encoder_2) everything after the first EOS becomes the pad id (process_tokens);
//   3. each chunk is encoded alone; its hidden states z [1, 77, H] become
//      z * w (the per-token weights) * (mean(z) / mean(z * w));
//   4. the chunks are concatenated along the sequence: [1, 77 * chunks, H]. The prompt and the
//      negative prompt get the same number of chunks by appending empty-prompt chunks (A1111's
//      "Pad prompt/negative prompt" option; with it off A1111 runs the UNet on the two lengths
//      separately, which this pipeline's batched CFG step does not do).
// SDXL: both encoders so (penultimate states, concatenated per token), the pooled output of
// text_encoder_2's first chunk, and an empty negative prompt as zeros for its own chunk, as
// A1111's sgm conditioner (force_zero_embeddings) when the model says force_zeros_for_empty_prompt.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "model/embeddings/prompt_tokens.h"
#include "model/pipeline/stages.h"
#include "model/prompt/a1111_prompt.h"

namespace sdw {

// One tokenizer's chunks of a prompt and the embeddings their fixes index.
struct A1111Tokens {
  std::vector<PromptChunk> chunks;
  std::vector<const TextualInversion*> embeddings;  // ChunkFix::embedding indexes this
};

// Steps 1-2 without the pad rule: A1111's tokenize_line. Throws RequestError for a weight that is
// not a number ("(a:1.2.3)").
A1111Tokens a1111_tokenize(const ClipTokenizer& tokenizer, const std::string& prompt, const EmbeddingSet& embeddings);

// Appends empty-prompt chunks (BOS, EOS x 76) until `tokens` has `count` chunks.
void pad_chunks(A1111Tokens& tokens, size_t count);

// Chunk `index` as the encoder's input: its 77 ids with the pad rule of step 2 (`pad_id`) and
// the slots of its embeddings.
PromptTokens chunk_input(const A1111Tokens& tokens, size_t index, int64_t pad_id);

// The hidden state that conditions the UNet, [1, 77, H], out of one encoder output.
using HiddenStatePick = std::function<at::Tensor(const CLIPTextOutput&)>;

struct A1111Encoding {
  at::Tensor states;  // [1, 77 * chunks, H] float32, steps 3-4
  at::Tensor pooled;  // the first chunk's text_embeds [1, P] (encoders with a projection)
};

A1111Encoding a1111_encode(CLIPTextModel& encoder, const A1111Tokens& tokens, int64_t pad_id, bool second_encoder,
                           const HiddenStatePick& pick, const at::Device& device);

// encode_prompt (stages.h) for a request with PromptSyntax::a1111 on an SD1/SD2/SDXL model: the
// context is [B, 77 * chunks, D]. clip_skip picks the layer for the prompt and the negative alike
// (A1111 encodes both with the same model settings).
PromptEmbeddings encode_prompt_a1111(SdModel& model, const ResolvedRequest& request, const EmbeddingSet& embeddings);

}  // namespace sdw
