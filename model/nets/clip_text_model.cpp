// CLIP text encoder (see clip_text_model.h), following transformers' modeling_clip.py.
#include "model/nets/clip_text_model.h"

#include <stdexcept>

#include "model/nets/config_json.h"
#include "model/nn/attention.h"

namespace sdw {
CLIPTextConfig CLIPTextConfig::from_json(const nlohmann::json& j) {
  CLIPTextConfig c;
  c.vocab_size = get_or<int64_t>(j, "vocab_size", 49408);
  c.hidden_size = get_or<int64_t>(j, "hidden_size", 512);
  c.intermediate_size = get_or<int64_t>(j, "intermediate_size", 2048);
  c.num_hidden_layers = get_or<int64_t>(j, "num_hidden_layers", 12);
  c.num_attention_heads = get_or<int64_t>(j, "num_attention_heads", 8);
  c.max_position_embeddings = get_or<int64_t>(j, "max_position_embeddings", 77);
  c.projection_dim = get_or<int64_t>(j, "projection_dim", 512);
  c.hidden_act = get_or<std::string>(j, "hidden_act", "quick_gelu");
  c.layer_norm_eps = get_or<double>(j, "layer_norm_eps", 1e-5);
  c.eos_token_id = get_or<int64_t>(j, "eos_token_id", 2);
  if (j.contains("architectures") && j["architectures"].is_array())
    for (const auto& a : j["architectures"])
      if (a == "CLIPTextModelWithProjection") c.with_projection = true;
  if (c.hidden_size % c.num_attention_heads != 0)
    throw std::invalid_argument("text encoder config: hidden_size not divisible by num_attention_heads");
  return c;
}

CLIPAttentionImpl::CLIPAttentionImpl(const CLIPTextConfig& c, const at::TensorOptions& options)
    : heads_(c.num_attention_heads) {
  const int64_t h = c.hidden_size;
  k_proj = register_module("k_proj", nn::Linear(h, h, true, options));
  v_proj = register_module("v_proj", nn::Linear(h, h, true, options));
  q_proj = register_module("q_proj", nn::Linear(h, h, true, options));
  out_proj = register_module("out_proj", nn::Linear(h, h, true, options));
}

at::Tensor CLIPAttentionImpl::forward(const at::Tensor& x) {
  at::Tensor q = nn::split_heads(q_proj->forward(x), heads_);  // [B, h, L, d]
  at::Tensor k = nn::split_heads(k_proj->forward(x), heads_);
  at::Tensor v = nn::split_heads(v_proj->forward(x), heads_);
  at::Tensor o = nn::merge_heads(nn::scaled_dot_product_attention(q, k, v, /*causal=*/true, /*upcast=*/false));
  return out_proj->forward(o);  // [B, L, H]
}

CLIPMLPImpl::CLIPMLPImpl(const CLIPTextConfig& c, const at::TensorOptions& options) : act_(c.hidden_act) {
  fc1 = register_module("fc1", nn::Linear(c.hidden_size, c.intermediate_size, true, options));
  fc2 = register_module("fc2", nn::Linear(c.intermediate_size, c.hidden_size, true, options));
}

at::Tensor CLIPMLPImpl::forward(const at::Tensor& x) { return fc2->forward(nn::activation(act_, fc1->forward(x))); }

CLIPEncoderLayerImpl::CLIPEncoderLayerImpl(const CLIPTextConfig& c, const at::TensorOptions& options) {
  self_attn = register_module("self_attn", CLIPAttention(c, options));
  layer_norm1 = register_module("layer_norm1", nn::LayerNorm(c.hidden_size, c.layer_norm_eps, options));
  mlp = register_module("mlp", CLIPMLP(c, options));
  layer_norm2 = register_module("layer_norm2", nn::LayerNorm(c.hidden_size, c.layer_norm_eps, options));
}

at::Tensor CLIPEncoderLayerImpl::forward(const at::Tensor& x) {
  at::Tensor h = x + self_attn->forward(layer_norm1->forward(x));
  return h + mlp->forward(layer_norm2->forward(h));
}

CLIPTextTransformerImpl::CLIPTextTransformerImpl(const CLIPTextConfig& c, const at::TensorOptions& options)
    : config_(c) {
  embeddings = register_module("embeddings", std::make_shared<torch::nn::Module>());
  token_embedding = embeddings->register_module("token_embedding", nn::Embedding(c.vocab_size, c.hidden_size, options));
  position_embedding = embeddings->register_module(
      "position_embedding", nn::Embedding(c.max_position_embeddings, c.hidden_size, options));
  encoder = register_module("encoder", std::make_shared<torch::nn::Module>());
  layers = encoder->register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    layers_.push_back(CLIPEncoderLayer(c, options));
    layers->push_back(layers_.back());
  }
  final_layer_norm = register_module("final_layer_norm", nn::LayerNorm(c.hidden_size, c.layer_norm_eps, options));
}

CLIPTextOutput CLIPTextTransformerImpl::forward(const at::Tensor& input_ids, const at::Tensor& token_embeds) {
  if (input_ids.dim() != 2) throw std::invalid_argument("CLIP text model: input_ids must be [B, L]");
  const int64_t len = input_ids.size(1);
  if (len > config_.max_position_embeddings)
    throw std::invalid_argument("CLIP text model: sequence of " + std::to_string(len) + " tokens exceeds " +
                                std::to_string(config_.max_position_embeddings));
  // ids left on the CPU go to the weights; ids on another device stay there (sequential offload).
  at::Tensor ids = input_ids.to(input_ids.device().is_cpu() ? token_embedding->weight.device() : input_ids.device(), at::kLong);
  at::Tensor positions = at::arange(len, ids.options()).unsqueeze(0);  // [1, L]
  // 1. embeddings
  if (token_embeds.defined() && (token_embeds.dim() != 3 || token_embeds.size(0) != ids.size(0) || token_embeds.size(1) != len))
    throw std::invalid_argument("CLIP text model: token_embeds must be [B, L, H] for input_ids [B, L]");
  at::Tensor tokens = token_embeds.defined() ? token_embeds : token_embedding->forward(ids);  // [B, L, H]
  at::Tensor h = tokens + position_embedding->forward(positions);                            // [B, L, H]
  CLIPTextOutput out;
  out.hidden_states.reserve(layers_.size() + 1);
  out.hidden_states.push_back(h);
  // 2. encoder layers (causal self-attention)
  for (auto& layer : layers_) {
    h = layer->forward(h);
    out.hidden_states.push_back(h);
  }
  // 3. final norm and pooling at the EOS token
  out.last_hidden_state = final_layer_norm->forward(h);
  at::Tensor eos_pos;
  if (config_.eos_token_id == 2) {
    eos_pos = ids.argmax(-1);  // legacy configs: the EOS id is the largest id
  } else {
    eos_pos = (ids == config_.eos_token_id).to(at::kInt).argmax(-1);
  }
  at::Tensor rows = at::arange(ids.size(0), ids.options());
  out.pooler_output = out.last_hidden_state.index({rows, eos_pos});  // [B, H]
  return out;
}

CLIPTextModelImpl::CLIPTextModelImpl(const CLIPTextConfig& c, const at::TensorOptions& options) : config_(c) {
  text_model = register_module("text_model", CLIPTextTransformer(c, options));
  if (c.with_projection)
    text_projection = register_module("text_projection", nn::Linear(c.hidden_size, c.projection_dim, false, options));
}

CLIPTextOutput CLIPTextModelImpl::forward(const at::Tensor& input_ids, const at::Tensor& token_embeds) {
  CLIPTextOutput out = text_model->forward(input_ids, token_embeds);
  if (text_projection) out.text_embeds = text_projection->forward(out.pooler_output);
  return out;
}

}  // namespace sdw
