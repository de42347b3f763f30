// AUTOMATIC1111's prompt conditioning (see a1111_conditioning.h).
#include "model/pipeline/a1111_conditioning.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "model/pipeline/sdxl_stages.h"

namespace sdw {
namespace {

std::vector<int> content_tokens(const ClipTokenizer& tokenizer, const std::string& text) {
  const std::vector<int64_t> ids = tokenizer.encode(text);  // BOS ... EOS
  return std::vector<int>(ids.begin() + 1, ids.end() - 1);
}

ChunkIds chunk_ids(const ClipTokenizer& tokenizer) {
  ChunkIds ids;
  ids.bos = static_cast<int>(tokenizer.bos_id());
  ids.eos = static_cast<int>(tokenizer.eos_id());
  const std::vector<int> comma = content_tokens(tokenizer, ",");  // A1111: vocab[",</w>"]
  ids.comma = comma.size() == 1 ? comma[0] : -1;
  return ids;
}

int embedding_index(A1111Tokens& out, const TextualInversion* e) {
  const auto it = std::find(out.embeddings.begin(), out.embeddings.end(), e);
  if (it != out.embeddings.end()) return static_cast<int>(it - out.embeddings.begin());
  out.embeddings.push_back(e);
  return static_cast<int>(out.embeddings.size()) - 1;
}

}  // namespace

A1111Tokens a1111_tokenize(const ClipTokenizer& tokenizer, const std::string& prompt, const EmbeddingSet& embeddings) {
  std::vector<WeightedText> pieces;
  try {
    pieces = parse_prompt_attention(prompt);
  } catch (const std::invalid_argument& e) {
    throw RequestError(e.what());
  }
  A1111Tokens out;
  std::vector<std::vector<PromptItem>> items(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (pieces[i].is_break()) continue;
    const std::string& text = pieces[i].text;
    size_t at = 0;
    auto add_text = [&](const std::string& part) {
      for (int t : content_tokens(tokenizer, part)) items[i].push_back({t, -1, 0});
    };
    for (const EmbeddingMatch& m : find_embedding_names(text, embeddings)) {
      add_text(text.substr(at, m.begin - at));
      items[i].push_back({0, embedding_index(out, m.embedding), static_cast<int>(m.embedding->num_vectors())});
      at = m.end;
    }
    add_text(text.substr(at));
  }
  try {
    out.chunks = prompt_item_chunks(pieces, items, chunk_ids(tokenizer));
  } catch (const std::invalid_argument& e) {
    throw RequestError(e.what());
  }
  return out;
}

void pad_chunks(A1111Tokens& tokens, size_t count) {
  if (tokens.chunks.size() >= count) return;
  // A1111's empty_chunk(): BOS, then EOS to the end, all weights 1
  const PromptChunk& any = tokens.chunks.front();
  PromptChunk empty;
  empty.tokens.assign(any.tokens.size(), any.tokens.back());
  empty.tokens.front() = any.tokens.front();
  empty.multipliers.assign(any.tokens.size(), 1.0);
  tokens.chunks.resize(count, empty);
}

PromptTokens chunk_input(const A1111Tokens& tokens, size_t index, int64_t pad_id) {
  const PromptChunk& chunk = tokens.chunks.at(index);
  PromptTokens out;
  out.ids.assign(chunk.tokens.begin(), chunk.tokens.end());  // [77]
  const int64_t eos = out.ids.back();
  if (pad_id != eos) {
    // process_tokens: the ids after the first EOS become the pad id (SD2's and SDXL's OpenCLIP)
    const auto first_eos = std::find(out.ids.begin() + 1, out.ids.end(), eos);
    std::fill(first_eos + 1, out.ids.end(), pad_id);
  }
  for (const ChunkFix& f : chunk.fixes) {
    const TextualInversion* e = tokens.embeddings.at(static_cast<size_t>(f.embedding));
    for (int v = 0; v < f.vectors; ++v) out.slots.push_back({f.position + v, e, v});
    if (std::find(out.used.begin(), out.used.end(), e->name) == out.used.end()) out.used.push_back(e->name);
  }
  return out;
}

A1111Encoding a1111_encode(CLIPTextModel& encoder, const A1111Tokens& tokens, int64_t pad_id, bool second_encoder,
                           const HiddenStatePick& pick, const at::Device& device) {
  A1111Encoding out;
  std::vector<at::Tensor> states;
  for (size_t c = 0; c < tokens.chunks.size(); ++c) {
    const CLIPTextOutput o = encode_prompt_tokens(encoder, chunk_input(tokens, c, pad_id), second_encoder, device);
    at::Tensor z = pick(o).to(at::kFloat);  // [1, 77, H]
    const std::vector<double>& w = tokens.chunks[c].multipliers;
    const at::Tensor weights = at::tensor(w, at::kDouble).to(at::kFloat).view({1, -1, 1}).to(z.device());  // [1, 77, 1]
    // EmphasisOriginal.after_transformers
    const at::Tensor original_mean = z.mean();
    z = z * weights;
    const at::Tensor new_mean = z.mean();
    states.push_back(z * (original_mean / new_mean));
    if (c == 0 && o.text_embeds.defined()) out.pooled = o.text_embeds;  // [1, P]
  }
  out.states = at::cat(states, 1);  // [1, 77 * chunks, H]
  return out;
}

PromptEmbeddings encode_prompt_a1111(SdModel& model, const ResolvedRequest& req, const EmbeddingSet& embeddings) {
  c10::InferenceMode guard;
  const auto& r = req.request;
  const int64_t n = r.num_images;
  const bool xl = model.is_sdxl();
  PromptEmbeddings p;
  p.cfg = req.guidance > 1.0;
  const std::string negative = r.negative_prompt.value_or("");

  struct Encoder {
    const ClipTokenizer* tokenizer;
    CLIPTextModel* model;
    bool second;
  };
  std::vector<Encoder> encoders;
  if (!model.text_encoder.is_empty()) encoders.push_back({model.tokenizer.get(), &model.text_encoder, false});
  if (xl) encoders.push_back({model.tokenizer_2.get(), &model.text_encoder_2, true});

  // 1. both prompts' chunks, to the same count
  std::vector<A1111Tokens> pos, neg;
  size_t count = 0;
  for (const Encoder& e : encoders) {
    pos.push_back(a1111_tokenize(*e.tokenizer, r.prompt, embeddings));
    count = std::max(count, pos.back().chunks.size());
    if (!p.cfg) continue;
    neg.push_back(a1111_tokenize(*e.tokenizer, negative, embeddings));
    count = std::max(count, neg.back().chunks.size());
  }
  for (auto* side : {&pos, &neg})
    for (A1111Tokens& t : *side) pad_chunks(t, count);

  // 2. the layer: SD1/SD2 as stages.cpp (last state, or an earlier one + final_layer_norm); SDXL
  // the penultimate (clip_skip k: k + 1 from the end), no final_layer_norm
  HiddenStatePick pick;
  if (xl) {
    pick = [&r](const CLIPTextOutput& o) { return o.hidden_states[o.hidden_states.size() - static_cast<size_t>(r.clip_skip) - 1]; };
  } else {
    CLIPTextModel& te = model.text_encoder;
    pick = [&r, &te](const CLIPTextOutput& o) {
      if (r.clip_skip <= 1) return o.last_hidden_state;
      return te->text_model->final_layer_norm->forward(o.hidden_states[o.hidden_states.size() - static_cast<size_t>(r.clip_skip)]);
    };
  }
  auto encode = [&](const std::vector<A1111Tokens>& tokens) {
    std::vector<at::Tensor> states;
    at::Tensor pooled;
    for (size_t i = 0; i < encoders.size(); ++i) {
      A1111Encoding e = a1111_encode(*encoders[i].model, tokens[i], encoders[i].tokenizer->pad_id(), encoders[i].second,
                                     pick, model.device);
      states.push_back(e.states);
      if (encoders[i].second) pooled = e.pooled;
    }
    return std::make_pair(at::cat(states, -1), pooled);  // [1, 77 * chunks, D], [1, P]
  };

  // 3. the context (and SDXL's added conditioning), [negative x N, positive x N]
  const auto dt = model.activation_dtype();
  auto [cond, pooled] = encode(pos);
  cond = cond.to(dt).repeat({n, 1, 1});  // [N, 77 * chunks, D]
  at::Tensor uncond, uncond_pooled;
  if (p.cfg) {
    std::tie(uncond, uncond_pooled) = encode(neg);
    if (xl && negative.empty() && model.force_zeros_for_empty_prompt) {
      uncond.narrow(1, 0, ClipTokenizer::kMaxLength).zero_();  // "" is one chunk; padding chunks stay encoded
      uncond_pooled = at::zeros_like(uncond_pooled);
    }
    uncond = uncond.to(dt).repeat({n, 1, 1});
  }
  p.context = p.cfg ? at::cat({uncond, cond}, 0) : cond;  // [2N | N, 77 * chunks, D]
  if (!xl) return p;
  const SdxlTimeIds ids = sdxl_time_ids(model, r);  // [1, 6] each ([1, 5] with aesthetic scores)
  pooled = pooled.to(dt).repeat({n, 1});  // [N, P]
  if (!p.cfg) {
    p.added = {pooled, ids.positive.repeat({n, 1})};
    return p;
  }
  uncond_pooled = uncond_pooled.to(dt).repeat({n, 1});
  p.added = {at::cat({uncond_pooled, pooled}, 0), at::cat({ids.negative.repeat({n, 1}), ids.positive.repeat({n, 1})}, 0)};
  return p;
}

}  // namespace sdw
