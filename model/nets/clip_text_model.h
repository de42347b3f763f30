// transformers' CLIPTextModel and CLIPTextModelWithProjection (the SD text encoders), configured
// from `text_encoder/config.json`. Returns every layer's hidden state for clip skip.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/nn/layers.h"

namespace sdw {

struct CLIPTextConfig {
  int64_t vocab_size = 49408;
  int64_t hidden_size = 768;
  int64_t intermediate_size = 3072;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t max_position_embeddings = 77;
  int64_t projection_dim = 768;
  std::string hidden_act = "quick_gelu";
  double layer_norm_eps = 1e-5;
  int64_t eos_token_id = 2;  // legacy 2 = pool at argmax(input_ids)
  bool with_projection = false;  // CLIPTextModelWithProjection

  static CLIPTextConfig from_json(const nlohmann::json& j);
};

struct CLIPTextOutput {
  at::Tensor last_hidden_state;           // [B, L, H] = final_layer_norm(hidden_states.back())
  std::vector<at::Tensor> hidden_states;  // L+1 entries: embeddings, then each layer's output
  at::Tensor pooler_output;               // [B, H] last_hidden_state at the EOS position
  at::Tensor text_embeds;                 // [B, projection_dim] (with projection only)
};

class CLIPAttentionImpl : public torch::nn::Module {
 public:
  CLIPAttentionImpl(const CLIPTextConfig& c, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // causal self-attention, [B, L, H]
  nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
  int64_t heads_;
};
TORCH_MODULE(CLIPAttention);

class CLIPMLPImpl : public torch::nn::Module {
 public:
  CLIPMLPImpl(const CLIPTextConfig& c, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);
  nn::Linear fc1{nullptr}, fc2{nullptr};
  std::string act_;
};
TORCH_MODULE(CLIPMLP);

class CLIPEncoderLayerImpl : public torch::nn::Module {
 public:
  CLIPEncoderLayerImpl(const CLIPTextConfig& c, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);
  CLIPAttention self_attn{nullptr};
  nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  CLIPMLP mlp{nullptr};
};
TORCH_MODULE(CLIPEncoderLayer);

// text_model.{embeddings, encoder, final_layer_norm}
class CLIPTextTransformerImpl : public torch::nn::Module {
 public:
  CLIPTextTransformerImpl(const CLIPTextConfig& c, const at::TensorOptions& options);
  // `num_layers` < 0: all layers. Fewer layers are used for single-file SD2 towers.
  // `token_embeds` [B, L, H]: used instead of token_embedding(input_ids) (textual-inversion
  // vectors in some rows); the ids still choose the pooled EOS position.
  CLIPTextOutput forward(const at::Tensor& input_ids, const at::Tensor& token_embeds = {});

  std::shared_ptr<torch::nn::Module> embeddings;
  nn::Embedding token_embedding{nullptr}, position_embedding{nullptr};
  std::shared_ptr<torch::nn::Module> encoder;
  torch::nn::ModuleList layers;
  std::vector<CLIPEncoderLayer> layers_;
  nn::LayerNorm final_layer_norm{nullptr};
  CLIPTextConfig config_;
};
TORCH_MODULE(CLIPTextTransformer);

class CLIPTextModelImpl : public torch::nn::Module {
 public:
  CLIPTextModelImpl(const CLIPTextConfig& c, const at::TensorOptions& options);
  // input_ids: [B, L] int64; token_embeds: see CLIPTextTransformerImpl::forward.
  CLIPTextOutput forward(const at::Tensor& input_ids, const at::Tensor& token_embeds = {});
  const CLIPTextConfig& config() const { return config_; }
  CLIPTextTransformer text_model{nullptr};
  nn::Linear text_projection{nullptr};

 private:
  CLIPTextConfig config_;
};
TORCH_MODULE(CLIPTextModel);

}  // namespace sdw
