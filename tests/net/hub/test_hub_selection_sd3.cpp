// The Hub file selection for an SD3 pipeline repo (stabilityai/stable-diffusion-3-medium-diffusers'
// layout, model_index.json from the manifests): the MMDiT's and T5's weights (the fp16 variant, T5's
// as a sharded index) and tokenizer_3's spiece.model are fetched with the CLIP and VAE files; no
// pickle, no unrelated files.
#include <catch.hpp>

#include <algorithm>

#include "model/loading/diffusers_folder.h"
#include "net/hub/hub_selection.h"
#include "test_util.h"

using namespace sdw;

TEST_CASE("an SD3 repo's transformer, text_encoder_3 and tokenizer_3 are selected", "[hub][sd3]") {
  const nlohmann::json index =
      read_json_file(test::fixture("manifests/stabilityai--stable-diffusion-3-medium-diffusers/model_index.json"));
  const std::vector<std::string> repo = {
      "model_index.json", "README.md", "sd3_medium.safetensors",
      "transformer/config.json", "transformer/diffusion_pytorch_model.safetensors",
      "transformer/diffusion_pytorch_model.fp16.safetensors",
      "vae/config.json", "vae/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.fp16.safetensors",
      "text_encoder/config.json", "text_encoder/model.safetensors", "text_encoder/model.fp16.safetensors",
      "text_encoder_2/config.json", "text_encoder_2/model.safetensors", "text_encoder_2/model.fp16.safetensors",
      "text_encoder_3/config.json", "text_encoder_3/model.safetensors.index.json",
      "text_encoder_3/model.safetensors.index.fp16.json", "text_encoder_3/model-00001-of-00002.safetensors",
      "text_encoder_3/model.fp16-00001-of-00002.safetensors",
      "tokenizer/merges.txt", "tokenizer/vocab.json", "tokenizer/tokenizer_config.json",
      "tokenizer_2/merges.txt", "tokenizer_2/vocab.json", "tokenizer_2/tokenizer_config.json",
      "tokenizer_3/spiece.model", "tokenizer_3/tokenizer.json", "tokenizer_3/tokenizer_config.json",
      "tokenizer_3/special_tokens_map.json", "scheduler/scheduler_config.json"};
  const net::PipelineFiles sel = net::select_pipeline_files(index, repo, "fp16", "stabilityai/stable-diffusion-3-medium-diffusers");
  auto has = [&](const std::string& f) { return std::find(sel.files.begin(), sel.files.end(), f) != sel.files.end(); };
  CHECK(has("transformer/diffusion_pytorch_model.fp16.safetensors"));
  CHECK(has("transformer/config.json"));
  CHECK(has("text_encoder_3/model.safetensors.index.fp16.json"));
  CHECK(sel.shard_indexes == std::vector<std::string>{"text_encoder_3/model.safetensors.index.fp16.json"});
  CHECK(has("tokenizer_3/spiece.model"));
  CHECK(has("tokenizer_3/tokenizer_config.json"));
  CHECK(has("text_encoder_2/model.fp16.safetensors"));
  CHECK(has("scheduler/scheduler_config.json"));
  CHECK_FALSE(has("sd3_medium.safetensors"));
  CHECK_FALSE(has("transformer/diffusion_pytorch_model.safetensors"));
  CHECK_FALSE(has("README.md"));
}
