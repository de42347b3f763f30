// The model-loading flags as ModelLoadSettings (see load_settings.h).
#include "runtime/load_settings.h"

#include <filesystem>
#include <memory>

#include "model/embeddings/embedding_library.h"
#include "model/nn/fused_qkv.h"
#include "runtime/served_controlnets.h"

namespace sdw {

void fill_load_settings(const ModelLoadCli& o, ModelLoadSettings& s) {
  check_model_load_options(o);
  s.model_config_dir = o.model_config_dir;
  s.vae_file = o.vae_file;
  s.memory_budget_bytes = o.memory_limit_mb * (int64_t{1} << 20);
  s.cuda_graphs = !o.no_cuda_graphs;
  s.channels_last.reset();
  if (o.channels_last || o.no_channels_last) s.channels_last = o.channels_last;  // else: on for CUDA
  s.fuse_qkv = nn::parse_fuse_qkv(o.fuse_qkv);
  s.load_t5 = !o.no_t5;
  s.max_sequence_length = o.max_sequence_length;
  s.t5_device = o.t5_device;
  s.memory = o.memory;
  s.embeddings = std::make_shared<EmbeddingLibrary>(
      std::vector<std::filesystem::path>(o.embedding_dirs.begin(), o.embedding_dirs.end()));
  s.controlnets.clear();
  const auto nets = served_controlnets(o.controlnets);  // kept: a range-for over *temporary would dangle
  for (const auto& [name, path] : *nets) s.controlnets.push_back(path);
}

}  // namespace sdw
