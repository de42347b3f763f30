// transformers' T5EncoderModel (modeling_t5.py: T5Stack, T5Block, T5LayerSelfAttention,
// T5Attention, T5LayerFF, T5DenseGatedActDense / T5DenseActDense, T5LayerNorm), SD3's
// text_encoder_3, configured from `text_encoder_3/config.json` with transformers' names:
// shared.weight, encoder.block.N.layer.{0,1}.*, encoder.final_layer_norm.weight.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/nn/layers.h"

namespace sdw {

struct T5Config {
  int64_t vocab_size = 32128;
  int64_t d_model = 512;
  int64_t d_kv = 64;
  int64_t d_ff = 2048;
  int64_t num_layers = 6;
  int64_t num_heads = 8;
  int64_t relative_attention_num_buckets = 32;
  int64_t relative_attention_max_distance = 128;
  double layer_norm_epsilon = 1e-6;
  std::string feed_forward_proj = "relu";
  bool is_gated_act = false;         // "gated-<act>"
  std::string dense_act_fn = "relu";  // "gated-gelu" forces gelu_new, as transformers does

  static T5Config from_json(const nlohmann::json& j);
};

// T5's bidirectional relative position bucket of `relative_position` (= key - query) [...] int64.
at::Tensor t5_relative_position_bucket(const at::Tensor& relative_position, int64_t num_buckets, int64_t max_distance);

// RMS norm without mean subtraction or bias: w * x / sqrt(mean(x^2) + eps), variance in float32.
class T5LayerNormImpl : public torch::nn::Module {
 public:
  T5LayerNormImpl(int64_t dim, double eps, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // [..., dim]
  at::Tensor weight;
  double eps_;
};
TORCH_MODULE(T5LayerNorm);

class T5AttentionImpl : public torch::nn::Module {
 public:
  T5AttentionImpl(const T5Config& c, bool has_relative_attention_bias, const at::TensorOptions& options);
  // The additive position bias [1, heads, Lq, Lk] on `device` (block 0 computes it; every block reuses it).
  at::Tensor compute_bias(int64_t query_length, int64_t key_length, const at::Device& device);
  // x [B, L, d_model], position_bias [1, heads, L, L] -> [B, L, d_model]. No 1/sqrt(d_kv) scaling.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& position_bias);
  nn::Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr};
  nn::Embedding relative_attention_bias{nullptr};
  T5Config config_;
};
TORCH_MODULE(T5Attention);

// layer.0: pre-norm self-attention with residual.
class T5LayerSelfAttentionImpl : public torch::nn::Module {
 public:
  T5LayerSelfAttentionImpl(const T5Config& c, bool has_relative_attention_bias, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& position_bias);
  T5Attention SelfAttention{nullptr};
  T5LayerNorm layer_norm{nullptr};
};
TORCH_MODULE(T5LayerSelfAttention);

// layer.1: pre-norm feed-forward with residual; DenseReluDense = wo(act(wi_0 x) * wi_1 x) when
// gated, wo(act(wi x)) otherwise.
class T5LayerFFImpl : public torch::nn::Module {
 public:
  T5LayerFFImpl(const T5Config& c, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);
  std::shared_ptr<torch::nn::Module> DenseReluDense;
  nn::Linear wi{nullptr}, wi_0{nullptr}, wi_1{nullptr}, wo{nullptr};
  T5LayerNorm layer_norm{nullptr};
  T5Config config_;
};
TORCH_MODULE(T5LayerFF);

class T5BlockImpl : public torch::nn::Module {
 public:
  T5BlockImpl(const T5Config& c, bool has_relative_attention_bias, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& position_bias);
  torch::nn::ModuleList layer;
  T5LayerSelfAttention self_attention{nullptr};
  T5LayerFF ff{nullptr};
};
TORCH_MODULE(T5Block);

struct T5EncoderOutput {
  at::Tensor last_hidden_state;           // [B, L, d_model] = final_layer_norm(last block's output)
  std::vector<at::Tensor> hidden_states;  // transformers' tuple: embeddings, blocks 0..L-2's outputs, last_hidden_state
};

class T5EncoderModelImpl : public torch::nn::Module {
 public:
  T5EncoderModelImpl(const T5Config& c, const at::TensorOptions& options);
  // input_ids [B, L] int64, no attention mask (SD3 passes none: padding is attended to).
  T5EncoderOutput forward(const at::Tensor& input_ids);
  const T5Config& config() const { return config_; }

  // `shared` is also registered as encoder.embed_tokens (tied, as in transformers' state_dict;
  // files hold shared.weight only).
  nn::Embedding shared{nullptr};
  std::shared_ptr<torch::nn::Module> encoder;
  torch::nn::ModuleList block;
  std::vector<T5Block> blocks_;
  T5LayerNorm final_layer_norm{nullptr};

 private:
  T5Config config_;
};
TORCH_MODULE(T5EncoderModel);

}  // namespace sdw
