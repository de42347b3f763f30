// libFuzzer target: prompts (any bytes, valid UTF-8 or not) through the CLIP BPE tokenizer
// (model/tokenizer), loaded once from the SD1.x fixture of tests/fixtures/tokenizer. A prompt must
// either be a TokenizerError (invalid UTF-8) or tokenize consistently: encode = BOS + tokens +
// EOS with ids in the vocabulary, encode_padded its 77-id truncation, count_tokens its length.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "model/tokenizer/clip_tokenizer.h"

namespace {

std::unique_ptr<sdw::ClipTokenizer> tokenizer;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tokenizer = std::make_unique<sdw::ClipTokenizer>(
      sdw::ClipTokenizer::from_folder(SDW_FIXTURES_DIR "/tokenizer/clip-vit-large-patch14"));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const sdw::ClipTokenizer& tok = *tokenizer;
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<int64_t> ids;
  try {
    ids = tok.encode(text);
  } catch (const sdw::TokenizerError&) {
    return 0;
  }
  SDW_FUZZ_CHECK(ids.size() >= 2 && ids.front() == tok.bos_id() && ids.back() == tok.eos_id());
  // CLIP's vocabulary ends with its special tokens: <|endoftext|> (EOS) is the last id.
  for (int64_t id : ids) SDW_FUZZ_CHECK(id >= 0 && id <= tok.eos_id());
  SDW_FUZZ_CHECK(tok.tokenize(text).size() == ids.size() - 2);
  SDW_FUZZ_CHECK(tok.count_tokens(text) == ids.size() - 2);
  const std::vector<int64_t> padded = tok.encode_padded(text);
  SDW_FUZZ_CHECK(padded.size() == size_t(sdw::ClipTokenizer::kMaxLength));
  const size_t kept = std::min(ids.size() - 2, padded.size() - 2);
  for (size_t i = 0; i <= kept; ++i) SDW_FUZZ_CHECK(padded[i] == ids[i]);
  SDW_FUZZ_CHECK(padded[kept + 1] == tok.eos_id());
  return 0;
}
