// A textual-inversion embedding file read into its vectors, in the formats diffusers'
// `load_textual_inversion` and A1111 read from safetensors:
//   A1111: `emb_params` [n, dim] (also `string_to_param.*`), SDXL: `clip_l` [n, 768] and
//     `clip_g` [n, 1280] (one set of vectors per text encoder);
//   diffusers (`learned_embeds.safetensors`): one tensor named after its token ("<cat-toy>"),
//     [dim] or [n, dim].
// A prompt names an embedding by its file name (A1111) or, for diffusers files, also by the token
// stored in the file. Only safetensors: pickle files (.pt, .bin, .ckpt) are refused, never read.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <stdexcept>
#include <string>

namespace sdw {

// An embedding file that cannot be read, or used with a model; the message names the file.
class EmbeddingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TextualInversion {
  std::string name;    // the file name without extension: what prompts say
  std::string token;   // diffusers files: the stored token ("<cat-toy>"); else empty
  std::string path;
  std::string format;  // "a1111", "a1111-sdxl" or "diffusers"
  // [n, dim] float32 on the CPU. SDXL files: `vectors` for text_encoder (clip_l) and `vectors_2`
  // for text_encoder_2 (clip_g); single-encoder files leave `vectors_2` undefined.
  at::Tensor vectors;
  at::Tensor vectors_2;

  int64_t num_vectors() const { return vectors.size(0); }
  bool is_sdxl() const { return vectors_2.defined(); }
  // Why this embedding does not fit text encoders of these widths (`width_2` 0: the model has one
  // encoder); empty when it fits.
  std::string mismatch(int64_t width, int64_t width_2) const;
};

// At most this many vectors (a 77-token window holds 75 content tokens).
constexpr int64_t kMaxEmbeddingVectors = 75;

// Reads an embedding file. Throws EmbeddingError: pickle files (by extension or content),
// unreadable or malformed safetensors, no recognised layout, non-float, non-finite or empty
// vectors, more than kMaxEmbeddingVectors vectors, SDXL halves of different lengths.
TextualInversion read_textual_inversion(const std::string& path);
// The same over tensors in memory; `path` names the file in messages and gives the name.
TextualInversion parse_textual_inversion(const std::map<std::string, at::Tensor>& tensors, const std::string& path);

}  // namespace sdw
