// sdw_sentencepiece: the C interface of sentencepiece_shim.h over sentencepiece::SentencePieceProcessor.
#include "model/tokenizer/sentencepiece/sentencepiece_shim.h"

#include <sentencepiece_processor.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

void set_error(char* error, size_t size, const std::string& message) {
  if (!error || size == 0) return;
  const size_t n = std::min(size - 1, message.size());
  std::memcpy(error, message.data(), n);
  error[n] = '\0';
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) void* sdw_spm_load(const char* path, char* error, size_t error_size) {
  try {
    auto* sp = new sentencepiece::SentencePieceProcessor();
    const auto status = sp->Load(path);
    if (!status.ok()) {
      set_error(error, error_size, status.ToString());
      delete sp;
      return nullptr;
    }
    return sp;
  } catch (const std::exception& e) {
    set_error(error, error_size, e.what());
    return nullptr;
  }
}

__attribute__((visibility("default"))) void sdw_spm_free(void* processor) {
  delete static_cast<sentencepiece::SentencePieceProcessor*>(processor);
}

__attribute__((visibility("default"))) int sdw_spm_encode(void* processor, const char* text, size_t text_size,
                                                          sdw_spm_emit emit, void* context, char* error,
                                                          size_t error_size) {
  try {
    const auto* sp = static_cast<const sentencepiece::SentencePieceProcessor*>(processor);
    const std::string input(text, text_size);
    std::vector<std::string> pieces;
    std::vector<int> ids;
    auto status = sp->Encode(input, &pieces);
    if (status.ok()) status = sp->Encode(input, &ids);
    if (!status.ok()) {
      set_error(error, error_size, status.ToString());
      return -1;
    }
    if (pieces.size() != ids.size()) {
      set_error(error, error_size, "pieces and ids of one text differ in number");
      return -1;
    }
    for (size_t i = 0; i < ids.size(); ++i) emit(context, ids[i], pieces[i].data(), pieces[i].size());
    return 0;
  } catch (const std::exception& e) {
    set_error(error, error_size, e.what());
    return -1;
  }
}

__attribute__((visibility("default"))) int sdw_spm_piece_to_id(void* processor, const char* piece, size_t piece_size) {
  return static_cast<const sentencepiece::SentencePieceProcessor*>(processor)->PieceToId(std::string(piece, piece_size));
}

__attribute__((visibility("default"))) int sdw_spm_piece_size(void* processor) {
  return static_cast<const sentencepiece::SentencePieceProcessor*>(processor)->GetPieceSize();
}

__attribute__((visibility("default"))) int sdw_spm_unk_id(void* processor) {
  return static_cast<const sentencepiece::SentencePieceProcessor*>(processor)->unk_id();
}

}
