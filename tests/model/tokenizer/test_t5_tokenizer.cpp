// T5 tokenizer (SD3's tokenizer_3): parity with transformers' slow T5Tokenizer (legacy) on the 17
// fixture cases (pieces, unpadded ids, ids padded/truncated to 256 and 77), the tokenizer of the
// tiny-sd3 pipeline folder against the component references, and bad folders / lengths.
#include <catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/safetensors/safetensors.h"
#include "model/tokenizer/t5_tokenizer.h"
#include "test_util.h"

using sdw::T5Tokenizer;
using sdw::TokenizerError;
using nlohmann::json;

namespace {

std::vector<int64_t> ids_of(const json& j) { return j.get<std::vector<int64_t>>(); }

}  // namespace

TEST_CASE("T5 tokenizer matches transformers' T5Tokenizer on every fixture case", "[t5_tokenizer][parity]") {
  const json cases = sdw::test::read_json(sdw::test::fixture("tokenizer/t5_tokenizer_cases.json"));
  const T5Tokenizer tok = T5Tokenizer::from_folder(sdw::test::fixture("tokenizer/t5-tiny"));
  REQUIRE(cases["cases"].size() == 17);
  for (const auto& c : cases["cases"]) {
    const std::string prompt = c["prompt"].get<std::string>();
    INFO("case " << c["name"].get<std::string>());
    CHECK(tok.tokenize(prompt) == c["pieces"].get<std::vector<std::string>>());
    CHECK(tok.encode(prompt) == ids_of(c["ids_unpadded"]));
    CHECK(tok.encode_padded(prompt, 256) == ids_of(c["ids_256"]));
    CHECK(tok.encode_padded(prompt, 77) == ids_of(c["ids_77"]));
    CHECK(tok.encode_padded(prompt) == ids_of(c["ids_256"]));  // SD3's default max_sequence_length
    CHECK((tok.count_tokens(prompt) > 255) == c["truncated_256"].get<bool>());
  }
}

TEST_CASE("T5 tokenizer: the truncated ids keep a slot for </s> and pad with <pad>", "[t5_tokenizer]") {
  const T5Tokenizer tok = T5Tokenizer::from_folder(sdw::test::fixture("tokenizer/t5-tiny"));
  CHECK(tok.eos_id() == 1);
  CHECK(tok.pad_id() == 0);
  CHECK(tok.unk_id() == 2);
  std::string long_prompt;
  for (int i = 0; i < 100; ++i) long_prompt += "a photo of a horse ";
  const auto ids = tok.encode_padded(long_prompt, 10);
  REQUIRE(ids.size() == 10);
  CHECK(ids.back() == 1);
  const auto all = tok.encode(long_prompt);
  CHECK(std::vector<int64_t>(all.begin(), all.begin() + 9) == std::vector<int64_t>(ids.begin(), ids.begin() + 9));
  const auto short_ids = tok.encode_padded("a horse", 10);
  CHECK(short_ids.back() == 0);
  CHECK_THROWS_AS(tok.encode_padded("a horse", 0), TokenizerError);
}

TEST_CASE("T5 tokenizer of the tiny-sd3 folder gives the references' tokenizer_3 ids", "[t5_tokenizer][parity]") {
  const json ref = sdw::test::read_json(sdw::test::fixture("references/tiny-sd3.json"));
  const auto tensors = sdw::SafetensorsFile::open(sdw::test::fixture("references/tiny-sd3.safetensors"));
  const at::Tensor expected = tensors.get("tokenizer_3.input_ids");  // [4, 256]
  const T5Tokenizer tok = T5Tokenizer::from_folder(sdw::test::fixture("pipelines/tiny-sd3/tokenizer_3"));
  const auto prompts = ref["prompts"].get<std::vector<std::string>>();
  REQUIRE(static_cast<int64_t>(prompts.size()) == expected.size(0));
  for (size_t i = 0; i < prompts.size(); ++i) {
    INFO("prompt " << i);
    const at::Tensor row = expected[static_cast<int64_t>(i)].contiguous();
    const int64_t* p = row.data_ptr<int64_t>();
    CHECK(tok.encode_padded(prompts[i]) == std::vector<int64_t>(p, p + row.numel()));
  }
}

TEST_CASE("T5 tokenizer: a folder without spiece.model or with a broken one is a TokenizerError", "[t5_tokenizer]") {
  sdw::test::TempDir dir;
  CHECK_THROWS_AS(T5Tokenizer::from_folder(dir.path()), TokenizerError);
  std::ofstream(dir.file("spiece.model")) << "not a sentencepiece model";
  CHECK_THROWS_AS(T5Tokenizer::from_folder(dir.path()), TokenizerError);
}
