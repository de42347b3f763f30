// SD3Transformer2DModel (see sd3_transformer_2d.h), following diffusers v0.30.3's
// transformer_sd3.py, embeddings.py (PatchEmbed, CombinedTimestepTextProjEmbeddings).
#include "model/nets/sd3_transformer_2d.h"

#include <stdexcept>
#include <string>

#include "model/nets/config_json.h"
#include "model/nn/weight_stream.h"

namespace sdw {
SD3Transformer2DConfig SD3Transformer2DConfig::from_json(const nlohmann::json& j) {
  SD3Transformer2DConfig c;
  c.sample_size = get_or<int64_t>(j, "sample_size", 128);
  c.patch_size = get_or<int64_t>(j, "patch_size", 2);
  c.in_channels = get_or<int64_t>(j, "in_channels", 16);
  c.num_layers = get_or<int64_t>(j, "num_layers", 18);
  c.attention_head_dim = get_or<int64_t>(j, "attention_head_dim", 64);
  c.num_attention_heads = get_or<int64_t>(j, "num_attention_heads", 18);
  c.joint_attention_dim = get_or<int64_t>(j, "joint_attention_dim", 4096);
  c.caption_projection_dim = get_or<int64_t>(j, "caption_projection_dim", 1152);
  c.pooled_projection_dim = get_or<int64_t>(j, "pooled_projection_dim", 2048);
  c.out_channels = get_or<int64_t>(j, "out_channels", 16);
  if (!j.contains("pos_embed_max_size") || j["pos_embed_max_size"].is_null()) {
    if (j.contains("pos_embed_max_size"))
      throw std::invalid_argument("SD3 transformer config: pos_embed_max_size null (an uncropped position table) is not supported");
  }
  c.pos_embed_max_size = get_or<int64_t>(j, "pos_embed_max_size", 96);
  // SD3.5's additions (diffusers 0.31+) change the blocks: refuse rather than compute something else.
  if (j.contains("qk_norm") && !j["qk_norm"].is_null())
    throw std::invalid_argument("SD3 transformer config: qk_norm (SD3.5) is not supported");
  if (j.contains("dual_attention_layers") && j["dual_attention_layers"].is_array() && !j["dual_attention_layers"].empty())
    throw std::invalid_argument("SD3 transformer config: dual_attention_layers (SD3.5) are not supported");
  if (c.patch_size < 1 || c.num_layers < 1 || c.num_attention_heads < 1 || c.attention_head_dim < 1 ||
      c.pos_embed_max_size < 1)
    throw std::invalid_argument("SD3 transformer config: sizes must be positive");
  if (c.caption_projection_dim != c.inner_dim())
    throw std::invalid_argument("SD3 transformer config: caption_projection_dim " + std::to_string(c.caption_projection_dim) +
                                " differs from num_attention_heads * attention_head_dim " + std::to_string(c.inner_dim()));
  return c;
}

SD3PatchEmbedImpl::SD3PatchEmbedImpl(const SD3Transformer2DConfig& c, const at::TensorOptions& options)
    : patch_size_(c.patch_size), max_size_(c.pos_embed_max_size) {
  proj = register_module("proj", nn::Conv2d(c.in_channels, c.inner_dim(), c.patch_size, c.patch_size, 0, true, options));
  pos_embed = register_buffer("pos_embed", at::empty({1, c.pos_embed_max_size * c.pos_embed_max_size, c.inner_dim()}, options));
}

at::Tensor SD3PatchEmbedImpl::cropped_pos_embed(int64_t height, int64_t width) {
  const int64_t h = height / patch_size_, w = width / patch_size_;
  if (h > max_size_ || w > max_size_)
    throw std::invalid_argument("SD3 transformer: " + std::to_string(height) + "x" + std::to_string(width) +
                                " latents exceed the position table of " + std::to_string(max_size_) + "x" +
                                std::to_string(max_size_) + " patches");
  const int64_t top = (max_size_ - h) / 2, left = (max_size_ - w) / 2;
  at::Tensor grid = pos_embed.view({1, max_size_, max_size_, -1});                       // [1, M, M, D]
  return grid.slice(1, top, top + h).slice(2, left, left + w).reshape({1, h * w, -1});   // [1, h*w, D]
}

at::Tensor SD3PatchEmbedImpl::forward(const at::Tensor& latent) {
  const int64_t height = latent.size(2), width = latent.size(3);
  at::Tensor x = proj->forward(latent);              // [N, D, h, w]
  x = x.flatten(2).transpose(1, 2);                  // [N, h*w, D], row-major tokens
  return (x + nn::on_device_of(cropped_pos_embed(height, width), x)).to(x.scalar_type());  // (sequential offload: the crop to x's device)
}

CombinedTimestepTextProjEmbeddingsImpl::CombinedTimestepTextProjEmbeddingsImpl(int64_t dim, int64_t pooled_dim,
                                                                               const at::TensorOptions& options) {
  timestep_embedder = register_module("timestep_embedder", nn::TimestepEmbedding(256, dim, "silu", options));
  text_embedder = register_module("text_embedder", std::make_shared<torch::nn::Module>());  // PixArtAlphaTextProjection
  text_linear_1 = text_embedder->register_module("linear_1", nn::Linear(pooled_dim, dim, true, options));
  text_linear_2 = text_embedder->register_module("linear_2", nn::Linear(dim, dim, true, options));
}

at::Tensor CombinedTimestepTextProjEmbeddingsImpl::forward(const at::Tensor& timestep, const at::Tensor& pooled) {
  at::Tensor proj = nn::timestep_embedding(timestep, 256, /*flip_sin_to_cos=*/true, /*freq_shift=*/0);  // [N, 256] [cos, sin]
  at::Tensor t = timestep_embedder->forward(proj.to(pooled.scalar_type()));                             // [N, D]
  at::Tensor p = text_linear_2->forward(at::silu(text_linear_1->forward(pooled)));                      // [N, D]
  return t + p;
}

SD3Transformer2DModelImpl::SD3Transformer2DModelImpl(const SD3Transformer2DConfig& c, const at::TensorOptions& options)
    : config_(c) {
  const int64_t dim = c.inner_dim();
  pos_embed = register_module("pos_embed", SD3PatchEmbed(c, options));
  time_text_embed = register_module("time_text_embed", CombinedTimestepTextProjEmbeddings(dim, c.pooled_projection_dim, options));
  context_embedder = register_module("context_embedder", nn::Linear(c.joint_attention_dim, c.caption_projection_dim, true, options));
  transformer_blocks = register_module("transformer_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_layers; ++i) {
    blocks_.push_back(JointTransformerBlock(dim, c.num_attention_heads, c.attention_head_dim,
                                            /*context_pre_only=*/i == c.num_layers - 1, options));
    transformer_blocks->push_back(blocks_.back());
  }
  norm_out = register_module("norm_out", AdaLayerNormContinuous(dim, dim, options));
  proj_out = register_module("proj_out", nn::Linear(dim, c.patch_size * c.patch_size * c.out_channels, true, options));
}

at::Tensor SD3Transformer2DModelImpl::forward(const at::Tensor& hidden_states, const at::Tensor& encoder_hidden_states,
                                              const at::Tensor& pooled_projections, const at::Tensor& timestep,
                                              SD3TransformerTrace* trace) {
  const auto& c = config_;
  if (hidden_states.dim() != 4 || hidden_states.size(1) != c.in_channels)
    throw std::invalid_argument("SD3 transformer: hidden_states must be [N, " + std::to_string(c.in_channels) + ", H, W]");
  const int64_t n = hidden_states.size(0), height = hidden_states.size(2), width = hidden_states.size(3);
  const int64_t p = c.patch_size;
  if (height % p != 0 || width % p != 0)
    throw std::invalid_argument("SD3 transformer: latent size " + std::to_string(height) + "x" + std::to_string(width) +
                                " is not a multiple of the patch size " + std::to_string(p));
  if (encoder_hidden_states.dim() != 3 || encoder_hidden_states.size(0) != n ||
      encoder_hidden_states.size(2) != c.joint_attention_dim)
    throw std::invalid_argument("SD3 transformer: encoder_hidden_states must be [N, T, " +
                                std::to_string(c.joint_attention_dim) + "]");
  if (pooled_projections.dim() != 2 || pooled_projections.size(0) != n ||
      pooled_projections.size(1) != c.pooled_projection_dim)
    throw std::invalid_argument("SD3 transformer: pooled_projections must be [N, " +
                                std::to_string(c.pooled_projection_dim) + "]");
  at::Tensor t = timestep.dim() == 0 ? timestep.expand({n}) : timestep;
  if (t.dim() != 1 || t.size(0) != n) throw std::invalid_argument("SD3 transformer: timestep must be [N]");
  // 1. patchify + cropped position embedding
  at::Tensor x = pos_embed->forward(hidden_states);  // [N, h*w, D]
  // 2. timestep + pooled text conditioning
  at::Tensor temb = time_text_embed->forward(t.to(hidden_states.device()), pooled_projections);  // [N, D]
  // 3. context projection
  at::Tensor ctx = context_embedder->forward(encoder_hidden_states);  // [N, T, D]
  if (trace) trace->patch_embed_out = x, trace->temb = temb, trace->context_embedder_out = ctx;
  // 4. joint blocks (the last one updates the image stream only)
  for (auto& block : blocks_) {
    auto out = block->forward(x, ctx, temb);
    x = out.hidden;
    ctx = out.context;
    if (trace) trace->block_hidden_out.push_back(x), trace->block_context_out.push_back(ctx);
  }
  // 5. final adaptive norm and projection
  x = norm_out->forward(x, temb);  // [N, h*w, D]
  if (trace) trace->norm_out = x;
  x = proj_out->forward(x);        // [N, h*w, p*p*C]
  if (trace) trace->proj_out = x;
  // 6. unpatchify: [N, h, w, p, p, C] -> [N, C, h, p, w, p] -> [N, C, H, W]
  const int64_t h = height / p, w = width / p, co = c.out_channels;
  x = x.reshape({n, h, w, p, p, co}).permute({0, 5, 1, 3, 2, 4});
  return x.reshape({n, co, h * p, w * p});
}

}  // namespace sdw
