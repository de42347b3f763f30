// T5 encoder (see t5_encoder.h), following transformers' modeling_t5.py (encoder path, no cache,
// no attention mask, dropout off).
#include "model/nets/t5_encoder.h"

#include <cmath>
#include <stdexcept>

#include "model/nets/config_json.h"
#include "model/nn/attention.h"
#include "model/nn/weight_stream.h"

namespace sdw {
namespace {

// transformers' NewGELUActivation (gelu_new), written out in its own operation order.
at::Tensor gelu_new(const at::Tensor& x) {
  return 0.5 * x * (1.0 + at::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * at::pow(x, 3.0))));
}

at::Tensor act(const std::string& name, const at::Tensor& x) {
  if (name == "gelu_new") return gelu_new(x);
  return nn::activation(name, x);
}

}  // namespace

T5Config T5Config::from_json(const nlohmann::json& j) {
  T5Config c;
  c.vocab_size = get_or<int64_t>(j, "vocab_size", 32128);
  c.d_model = get_or<int64_t>(j, "d_model", 512);
  c.d_kv = get_or<int64_t>(j, "d_kv", 64);
  c.d_ff = get_or<int64_t>(j, "d_ff", 2048);
  c.num_layers = get_or<int64_t>(j, "num_layers", 6);
  c.num_heads = get_or<int64_t>(j, "num_heads", 8);
  c.relative_attention_num_buckets = get_or<int64_t>(j, "relative_attention_num_buckets", 32);
  c.relative_attention_max_distance = get_or<int64_t>(j, "relative_attention_max_distance", 128);
  c.layer_norm_epsilon = get_or<double>(j, "layer_norm_epsilon", 1e-6);
  c.feed_forward_proj = get_or<std::string>(j, "feed_forward_proj", "relu");
  // transformers' T5Config: "gated-<act>" or "<act>"; gated-gelu means gelu_new.
  std::string act_name = c.feed_forward_proj;
  const std::string gated = "gated-";
  c.is_gated_act = act_name.rfind(gated, 0) == 0;
  if (c.is_gated_act) act_name = act_name.substr(gated.size());
  if (act_name.empty() || act_name.find('-') != std::string::npos)
    throw std::invalid_argument("T5 config: feed_forward_proj '" + c.feed_forward_proj +
                                "' is not '<act>' or 'gated-<act>'");
  c.dense_act_fn = c.feed_forward_proj == "gated-gelu" ? "gelu_new" : act_name;
  if (c.num_layers < 1 || c.num_heads < 1 || c.d_kv < 1 || c.d_model < 1 || c.d_ff < 1)
    throw std::invalid_argument("T5 config: sizes must be positive");
  if (c.relative_attention_num_buckets < 4 || c.relative_attention_max_distance < c.relative_attention_num_buckets / 4)
    throw std::invalid_argument("T5 config: relative attention buckets / max distance out of range");
  return c;
}

at::Tensor t5_relative_position_bucket(const at::Tensor& relative_position, int64_t num_buckets, int64_t max_distance) {
  // Bidirectional: half the buckets for keys after the query.
  const int64_t n = num_buckets / 2;
  at::Tensor buckets = (relative_position > 0).to(at::kLong) * n;
  at::Tensor rel = relative_position.abs();
  const int64_t max_exact = n / 2;
  at::Tensor is_small = rel < max_exact;
  // Logarithmic buckets up to max_distance, in float32 as transformers computes them.
  at::Tensor large = (at::log(rel.to(at::kFloat) / static_cast<double>(max_exact)) /
                      std::log(static_cast<double>(max_distance) / max_exact) * static_cast<double>(n - max_exact))
                         .to(at::kLong) +
                     max_exact;
  large = at::minimum(large, at::full_like(large, n - 1));
  return buckets + at::where(is_small, rel, large);
}

T5LayerNormImpl::T5LayerNormImpl(int64_t dim, double eps, const at::TensorOptions& options) : eps_(eps) {
  weight = register_parameter("weight", at::empty({dim}, options), false);
}

at::Tensor T5LayerNormImpl::forward(const at::Tensor& x) {
  at::Tensor variance = x.to(at::kFloat).pow(2).mean(-1, /*keepdim=*/true);  // [..., 1]
  at::Tensor h = x * at::rsqrt(variance + eps_);
  const at::Tensor w = nn::on_device_of(weight, x);  // (sequential offload)
  if (w.scalar_type() == at::kHalf || w.scalar_type() == at::kBFloat16) h = h.to(w.scalar_type());
  return w * h;
}

T5AttentionImpl::T5AttentionImpl(const T5Config& c, bool has_relative_attention_bias, const at::TensorOptions& options)
    : config_(c) {
  const int64_t inner = c.num_heads * c.d_kv;
  q = register_module("q", nn::Linear(c.d_model, inner, false, options));
  k = register_module("k", nn::Linear(c.d_model, inner, false, options));
  v = register_module("v", nn::Linear(c.d_model, inner, false, options));
  o = register_module("o", nn::Linear(inner, c.d_model, false, options));
  if (has_relative_attention_bias)
    relative_attention_bias = register_module(
        "relative_attention_bias", nn::Embedding(c.relative_attention_num_buckets, c.num_heads, options));
}

at::Tensor T5AttentionImpl::compute_bias(int64_t query_length, int64_t key_length, const at::Device& device) {
  if (!relative_attention_bias) throw std::logic_error("T5: compute_bias on a block without relative_attention_bias");
  const auto long_opts = at::TensorOptions().dtype(at::kLong).device(device);
  at::Tensor context = at::arange(query_length, long_opts).unsqueeze(1);  // [Lq, 1]
  at::Tensor memory = at::arange(key_length, long_opts).unsqueeze(0);     // [1, Lk]
  at::Tensor buckets = t5_relative_position_bucket(memory - context, config_.relative_attention_num_buckets,
                                                   config_.relative_attention_max_distance);  // [Lq, Lk]
  at::Tensor values = relative_attention_bias->forward(buckets);                             // [Lq, Lk, heads]
  return values.permute({2, 0, 1}).unsqueeze(0);                                              // [1, heads, Lq, Lk]
}

at::Tensor T5AttentionImpl::forward(const at::Tensor& x, const at::Tensor& position_bias) {
  const int64_t heads = config_.num_heads;
  at::Tensor qh = nn::split_heads(q->forward(x), heads);  // [B, h, L, d_kv]
  at::Tensor kh = nn::split_heads(k->forward(x), heads);
  at::Tensor vh = nn::split_heads(v->forward(x), heads);
  at::Tensor scores = at::matmul(qh, kh.transpose(-1, -2)) + position_bias;     // [B, h, L, L], unscaled
  at::Tensor probs = at::softmax(scores.to(at::kFloat), -1).to(scores.scalar_type());
  at::Tensor out = nn::merge_heads(at::matmul(probs, vh));  // [B, L, h*d_kv]
  return o->forward(out);                                  // [B, L, d_model]
}

T5LayerSelfAttentionImpl::T5LayerSelfAttentionImpl(const T5Config& c, bool has_relative_attention_bias,
                                                   const at::TensorOptions& options) {
  SelfAttention = register_module("SelfAttention", T5Attention(c, has_relative_attention_bias, options));
  layer_norm = register_module("layer_norm", T5LayerNorm(c.d_model, c.layer_norm_epsilon, options));
}

at::Tensor T5LayerSelfAttentionImpl::forward(const at::Tensor& x, const at::Tensor& position_bias) {
  return x + SelfAttention->forward(layer_norm->forward(x), position_bias);
}

T5LayerFFImpl::T5LayerFFImpl(const T5Config& c, const at::TensorOptions& options) : config_(c) {
  DenseReluDense = register_module("DenseReluDense", std::make_shared<torch::nn::Module>());
  if (c.is_gated_act) {
    wi_0 = DenseReluDense->register_module("wi_0", nn::Linear(c.d_model, c.d_ff, false, options));
    wi_1 = DenseReluDense->register_module("wi_1", nn::Linear(c.d_model, c.d_ff, false, options));
  } else {
    wi = DenseReluDense->register_module("wi", nn::Linear(c.d_model, c.d_ff, false, options));
  }
  wo = DenseReluDense->register_module("wo", nn::Linear(c.d_ff, c.d_model, false, options));
  layer_norm = register_module("layer_norm", T5LayerNorm(c.d_model, c.layer_norm_epsilon, options));
}

at::Tensor T5LayerFFImpl::forward(const at::Tensor& x) {
  at::Tensor h = layer_norm->forward(x);  // [B, L, d_model]
  at::Tensor inner = config_.is_gated_act ? act(config_.dense_act_fn, wi_0->forward(h)) * wi_1->forward(h)
                                          : act(config_.dense_act_fn, wi->forward(h));  // [B, L, d_ff]
  return x + wo->forward(inner.to(wo->weight.scalar_type()));
}

T5BlockImpl::T5BlockImpl(const T5Config& c, bool has_relative_attention_bias, const at::TensorOptions& options) {
  self_attention = T5LayerSelfAttention(c, has_relative_attention_bias, options);
  ff = T5LayerFF(c, options);
  layer = register_module("layer", torch::nn::ModuleList(self_attention, ff));
}

at::Tensor T5BlockImpl::forward(const at::Tensor& x, const at::Tensor& position_bias) {
  return ff->forward(self_attention->forward(x, position_bias));
}

T5EncoderModelImpl::T5EncoderModelImpl(const T5Config& c, const at::TensorOptions& options) : config_(c) {
  shared = register_module("shared", nn::Embedding(c.vocab_size, c.d_model, options));
  encoder = register_module("encoder", std::make_shared<torch::nn::Module>());
  encoder->register_module("embed_tokens", shared);
  block = encoder->register_module("block", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_layers; ++i) {
    blocks_.push_back(T5Block(c, /*has_relative_attention_bias=*/i == 0, options));
    block->push_back(blocks_.back());
  }
  final_layer_norm = encoder->register_module("final_layer_norm", T5LayerNorm(c.d_model, c.layer_norm_epsilon, options));
}

T5EncoderOutput T5EncoderModelImpl::forward(const at::Tensor& input_ids) {
  if (input_ids.dim() != 2) throw std::invalid_argument("T5 encoder: input_ids must be [B, L]");
  // ids left on the CPU go to the weights; ids on another device stay there (sequential offload).
  at::Tensor ids = input_ids.to(input_ids.device().is_cpu() ? shared->weight.device() : input_ids.device(), at::kLong);
  if (ids.numel() > 0 && (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= config_.vocab_size))
    throw std::invalid_argument("T5 encoder: token id outside the vocabulary of " + std::to_string(config_.vocab_size));
  const int64_t len = ids.size(1);
  T5EncoderOutput out;
  // 1. token embeddings (no position embeddings: the blocks add a relative bias)
  at::Tensor h = shared->forward(ids);  // [B, L, d_model]
  out.hidden_states.push_back(h);
  // 2. block 0's relative position bias, reused by every block
  at::Tensor position_bias = blocks_[0]->self_attention->SelfAttention->compute_bias(len, len, h.device()).to(h.scalar_type());
  // 3. blocks
  for (size_t i = 0; i < blocks_.size(); ++i) {
    h = blocks_[i]->forward(h, position_bias);  // [B, L, d_model]
    if (i + 1 < blocks_.size()) out.hidden_states.push_back(h);
  }
  // 4. final norm
  out.last_hidden_state = final_layer_norm->forward(h);
  out.hidden_states.push_back(out.last_hidden_state);
  return out;
}

}  // namespace sdw
