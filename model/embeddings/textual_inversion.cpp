// Textual-inversion files: the A1111 and diffusers safetensors layouts.
#include "model/embeddings/textual_inversion.h"

#include <filesystem>

#include "model/safetensors/pickle_guard.h"
#include "model/safetensors/safetensors.h"

namespace sdw {

namespace {

std::string shape_of(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

// A stored tensor as [n, dim] float32 vectors; `what` names it in messages.
at::Tensor to_vectors(const at::Tensor& stored, const std::string& path, const std::string& what) {
  if (!at::isFloatingType(stored.scalar_type()))
    throw EmbeddingError("embedding file '" + path + "': " + what + " is not a float tensor");
  at::Tensor v = stored.dim() == 1 ? stored.unsqueeze(0) : stored;  // [dim] -> [1, dim]
  if (v.dim() != 2 || v.size(0) < 1 || v.size(1) < 1)
    throw EmbeddingError("embedding file '" + path + "': " + what + " has shape " + shape_of(stored) +
                         "; expected [vectors, width] or [width]");
  if (v.size(0) > kMaxEmbeddingVectors)
    throw EmbeddingError("embedding file '" + path + "': " + what + " holds " + std::to_string(v.size(0)) +
                         " vectors; at most " + std::to_string(kMaxEmbeddingVectors) + " fit in a prompt");
  v = v.to(at::kFloat).contiguous().clone();  // own the data (the file's mapping may go)
  if (!at::isfinite(v).all().item<bool>())
    throw EmbeddingError("embedding file '" + path + "': " + what + " holds NaN or infinite values");
  return v;
}

}  // namespace

std::string TextualInversion::mismatch(int64_t width, int64_t width_2) const {
  const std::string w = std::to_string(vectors.size(1));
  if (width_2 == 0) {
    if (is_sdxl()) return "an SDXL embedding (clip_l and clip_g); this model has one text encoder";
    if (vectors.size(1) != width)
      return "its vectors are " + w + " wide; this model's text encoder takes " + std::to_string(width);
    return "";
  }
  if (!is_sdxl()) return "a single-encoder embedding (" + w + " wide); SDXL models need clip_l and clip_g vectors";
  if (vectors.size(1) != width || vectors_2.size(1) != width_2)
    return "its vectors are " + w + " and " + std::to_string(vectors_2.size(1)) + " wide; this model's text encoders take " +
           std::to_string(width) + " and " + std::to_string(width_2);
  return "";
}

TextualInversion parse_textual_inversion(const std::map<std::string, at::Tensor>& tensors, const std::string& path) {
  TextualInversion e;
  e.path = path;
  e.name = std::filesystem::path(path).stem().string();
  std::string keys;
  for (const auto& [k, t] : tensors) keys += (keys.empty() ? "'" : ", '") + k + "'";
  if (tensors.count("clip_l") || tensors.count("clip_g")) {
    if (!tensors.count("clip_l") || !tensors.count("clip_g") || tensors.size() != 2)
      throw EmbeddingError("embedding file '" + path + "': an SDXL embedding holds exactly 'clip_l' and 'clip_g'; it holds " + keys);
    e.format = "a1111-sdxl";
    e.vectors = to_vectors(tensors.at("clip_l"), path, "clip_l");
    e.vectors_2 = to_vectors(tensors.at("clip_g"), path, "clip_g");
    if (e.vectors.size(0) != e.vectors_2.size(0))
      throw EmbeddingError("embedding file '" + path + "': clip_l holds " + std::to_string(e.vectors.size(0)) +
                           " vectors but clip_g " + std::to_string(e.vectors_2.size(0)));
    return e;
  }
  if (tensors.size() != 1)
    throw EmbeddingError("embedding file '" + path + "' is not a textual-inversion embedding (expected 'emb_params', " +
                         "'string_to_param.*', 'clip_l' + 'clip_g', or one tensor named after its token); it holds " +
                         (keys.empty() ? std::string("no tensors") : keys));
  const auto& [key, stored] = *tensors.begin();
  if (key == "emb_params" || key.rfind("string_to_param.", 0) == 0) {
    e.format = "a1111";
  } else {
    e.format = "diffusers";
    e.token = key;
  }
  e.vectors = to_vectors(stored, path, "'" + key + "'");
  return e;
}

TextualInversion read_textual_inversion(const std::string& path) {
  const std::string reason = pickle_reason(path);
  if (!reason.empty())
    throw EmbeddingError("embedding file '" + path + "' is " + reason +
                         "; only .safetensors embeddings are loaded (pickle files can run code when read)");
  std::map<std::string, at::Tensor> tensors;
  try {
    tensors = SafetensorsFile::open(path).tensors();
  } catch (const SafetensorsError& e) {
    throw EmbeddingError("embedding file '" + path + "' is not a valid safetensors file: " + e.what());
  }
  return parse_textual_inversion(tensors, path);
}

}  // namespace sdw
