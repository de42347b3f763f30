// CLIP tokenizer: parity with transformers' slow CLIPTokenizer (no ftfy) on the 43 fixture cases
// for both the SD1 ('<|endoftext|>' pad) and SD2 ('!' pad) tokenizers (the five cases where
// transformers 5 differs pinned to transformers 4), batch padding, the pad token from the folder's
// files, special tokens, concurrent use and load / tokenize timings. The BPE merge order is in
// test_tokenizer_bpe.cpp, malformed files and inputs in test_tokenizer_fuzz.cpp.
#include <catch.hpp>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "model/tokenizer/clip_tokenizer.h"
#include "model/tokenizer/clip_tokenizer_fixtures.h"
#include "test_util.h"

using sdw::ClipTokenizer;
using sdw::TokenizerError;
using nlohmann::json;
using namespace sdw::test::clip_fixtures;

namespace {

const json& cases_json() {
  static const json j = json::parse(read_all(sdw::test::fixture("tokenizer/tokenizer_cases.json")));
  return j;
}

const json& cases_t5_json() {
  static const json j = json::parse(read_all(sdw::test::fixture("tokenizer/tokenizer_cases_transformers5.json")));
  return j;
}

std::vector<int64_t> ids_of(const json& j) { return j.get<std::vector<int64_t>>(); }
std::vector<std::string> strings_of(const json& j) { return j.get<std::vector<std::string>>(); }

// The five cases where transformers 4 (slow, the reference pipelines) and transformers 5 (the
// `tokenizers` backend) disagree: CJK spacing, and whether U+200B/U+200D/control chars/U+FFFD
// are dropped. We follow tokenizer_cases.json (transformers 4); the parity test below accepts
// either variant for these five only, and "follows the transformers 4 variant" pins ours.
const std::set<std::string> kVariantCases = {"emoji", "japanese", "chinese", "zero_width_nbsp", "control_chars"};

// Returns "" if the tokenizer reproduces the expectation, else a description of the mismatch.
struct Expected {
  std::vector<std::string> tokens;
  std::vector<int64_t> unpadded;
  std::vector<int64_t> padded;
};

std::string mismatch(const ClipTokenizer& tok, const std::string& prompt, const Expected& e) {
  if (tok.tokenize(prompt) != e.tokens) return "tokens differ";
  if (tok.encode(prompt) != e.unpadded) return "ids_unpadded differ";
  if (tok.encode_padded(prompt) != e.padded) return "padded ids differ";
  if (tok.count_tokens(prompt) != e.unpadded.size() - 2) return "count_tokens differs";
  return "";
}

Expected expected_v4(const json& c, bool sd2) {
  Expected e;
  e.tokens = strings_of(sd2 && c.contains("tokens_sd2_pad_excl") ? c["tokens_sd2_pad_excl"] : c["tokens"]);
  e.unpadded = ids_of(sd2 && c.contains("ids_unpadded_sd2_pad_excl") ? c["ids_unpadded_sd2_pad_excl"] : c["ids_unpadded"]);
  e.padded = ids_of(sd2 ? c["ids_sd2_pad_excl"] : c["ids_sd1_pad_eos"]);
  return e;
}

Expected expected_v5(const std::string& name, bool sd2) {
  const json& c = cases_t5_json()[sd2 ? "clip-vit-large-patch14-pad-excl" : "clip-vit-large-patch14"]["cases"][name];
  Expected e;
  e.tokens = strings_of(c["tokens"]);  // with BOS/EOS
  e.tokens = std::vector<std::string>(e.tokens.begin() + 1, e.tokens.end() - 1);
  e.unpadded = ids_of(c["ids_unpadded"]);
  e.padded = ids_of(c["ids_77"]);
  return e;
}

void check_all_cases(const std::string& dir, bool sd2) {
  const ClipTokenizer& tok = tokenizer(dir);
  const json& cases = cases_json()["cases"];
  REQUIRE(cases.size() == 43);
  for (const json& c : cases) {
    const std::string name = c["name"];
    const std::string prompt = c["prompt"];
    INFO("case " << name << " on " << dir);
    const Expected v4 = expected_v4(c, sd2);
    if (kVariantCases.count(name)) {
      const std::string m4 = mismatch(tok, prompt, v4);
      const std::string m5 = mismatch(tok, prompt, expected_v5(name, sd2));
      INFO("vs tokenizer_cases.json: " << m4 << "; vs transformers5: " << m5);
      CHECK((m4.empty() || m5.empty()));
    } else {
      CHECK(tok.tokenize(prompt) == v4.tokens);
      CHECK(tok.encode(prompt) == v4.unpadded);
      CHECK(tok.encode_padded(prompt) == v4.padded);
      CHECK(tok.count_tokens(prompt) == v4.unpadded.size() - 2);
    }
    // Padding layout, truncation flag and attention mask (the mask of the five variant cases
    // depends on the variant, so it is covered by mismatch() above).
    const std::vector<int64_t> padded = tok.encode_padded(prompt);
    REQUIRE(padded.size() == 77);
    const size_t n = tok.encode(prompt).size();
    CHECK(padded.front() == 49406);
    CHECK(padded[std::min<size_t>(n, 77) - 1] == 49407);
    CHECK(std::all_of(padded.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(n, 77)), padded.end(),
                      [&](int64_t id) { return id == (sd2 ? 0 : 49407); }));
    CHECK((n - 2 > 75) == c["truncated"].get<bool>());
    if (!kVariantCases.count(name)) {
      REQUIRE(c["num_unpadded"].get<size_t>() == c["ids_unpadded"].size());
      CHECK(n == v4.unpadded.size());
      const std::vector<int> mask = c[sd2 ? "attention_mask_sd2" : "attention_mask_sd1"].get<std::vector<int>>();
      REQUIRE(mask.size() == 77);
      for (size_t k = 0; k < 77; ++k) CHECK(mask[k] == (k < std::min<size_t>(n, 77) ? 1 : 0));
    }
  }
}

}  // namespace

TEST_CASE("all 43 cases match transformers with the SD1 tokenizer ('<|endoftext|>' pad)", "[tokenizer]") {
  check_all_cases(kSd1Dir, false);
  check_all_cases("pipelines/tiny-sd15/tokenizer", false);
}

TEST_CASE("all 43 cases match transformers with the SD2 tokenizer ('!' pad)", "[tokenizer]") {
  check_all_cases(kSd2Dir, true);
  check_all_cases("pipelines/tiny-sd21v/tokenizer", true);
}

TEST_CASE("follows the transformers 4 variant (tokenizer_cases.json) for the five variant cases", "[tokenizer]") {
  for (bool sd2 : {false, true}) {
    const ClipTokenizer& tok = tokenizer(sd2 ? kSd2Dir : kSd1Dir);
    for (const json& c : cases_json()["cases"]) {
      if (!kVariantCases.count(c["name"])) continue;
      INFO("case " << c["name"].get<std::string>() << (sd2 ? " (SD2)" : " (SD1)"));
      CHECK(mismatch(tok, c["prompt"], expected_v4(c, sd2)).empty());
    }
  }
}

TEST_CASE("batch examples: max_length and 'longest' padding", "[tokenizer]") {
  const ClipTokenizer& tok = tokenizer(kSd1Dir);
  for (const char* which : {"max_length_batch", "longest_batch"}) {
    const json& b = cases_json()["batch_examples"][which];
    const auto rows = b["input_ids"].get<std::vector<std::vector<int64_t>>>();
    for (size_t i = 0; i < rows.size(); ++i) {
      INFO(which << " row " << i);
      CHECK(tok.encode_padded(b["prompts"][i], static_cast<int>(rows[i].size())) == rows[i]);
    }
  }
  CHECK(tok.encode_padded("a photo of a cat", 4) == std::vector<int64_t>{49406, 320, 1125, 49407});
  CHECK(tok.encode_padded("a photo", 2) == std::vector<int64_t>{49406, 49407});
  CHECK_THROWS_AS(tok.encode_padded("a photo", 1), TokenizerError);
}

TEST_CASE("from_folder reads the pad token; bos/eos/pad ids", "[tokenizer]") {
  for (const char* dir : {kSd1Dir, "pipelines/tiny-sd15/tokenizer"}) {
    const ClipTokenizer& t = tokenizer(dir);
    INFO(dir);
    CHECK(t.pad_token() == "<|endoftext|>");
    CHECK(t.pad_id() == 49407);
    CHECK(t.bos_id() == 49406);
    CHECK(t.eos_id() == 49407);
  }
  for (const char* dir : {kSd2Dir, "pipelines/tiny-sd21v/tokenizer"}) {
    const ClipTokenizer& t = tokenizer(dir);
    INFO(dir);
    CHECK(t.pad_token() == "!");
    CHECK(t.pad_id() == 0);
    CHECK(t.bos_id() == 49406);
    CHECK(t.eos_id() == 49407);
  }

  sdw::test::TempDir dir;
  copy_fixture_files(dir, kSd1Dir);
  // No special_tokens_map.json / tokenizer_config.json: CLIPTokenizer's default pad.
  CHECK(ClipTokenizer::from_folder(dir.path()).pad_token() == "<|endoftext|>");
  // Legacy AddedToken dict layout in tokenizer_config.json.
  write_file(dir.file("tokenizer_config.json"),
             R"({"pad_token": {"__type": "AddedToken", "content": "!", "lstrip": false}})");
  ClipTokenizer from_config = ClipTokenizer::from_folder(dir.path());
  CHECK(from_config.pad_token() == "!");
  CHECK(from_config.pad_id() == 0);
  // special_tokens_map.json takes precedence; plain string layout.
  write_file(dir.file("special_tokens_map.json"), R"({"pad_token": "<|endoftext|>"})");
  CHECK(ClipTokenizer::from_folder(dir.path()).pad_id() == 49407);
  // Dict layout without __type in special_tokens_map.json.
  write_file(dir.file("special_tokens_map.json"), R"({"pad_token": {"content": "!", "normalized": true}})");
  CHECK(ClipTokenizer::from_folder(dir.path()).pad_id() == 0);
  // Malformed special-token files and a pad token missing from the vocab.
  write_file(dir.file("special_tokens_map.json"), R"({"pad_token": {"content": 5}})");
  CHECK_THROWS_AS(ClipTokenizer::from_folder(dir.path()), TokenizerError);
  write_file(dir.file("special_tokens_map.json"), R"({"pad_token": "<pad>"})");
  CHECK_THROWS_AS(ClipTokenizer::from_folder(dir.path()), TokenizerError);
  write_file(dir.file("special_tokens_map.json"), R"({"pad_token": )");
  CHECK_THROWS_AS(ClipTokenizer::from_folder(dir.path()), TokenizerError);
  CHECK_THROWS_AS(ClipTokenizer::from_folder(dir.file("missing")), TokenizerError);
}

TEST_CASE("special tokens and the '!' added token", "[tokenizer]") {
  const ClipTokenizer& sd1 = tokenizer(kSd1Dir);
  const ClipTokenizer& sd2 = tokenizer(kSd2Dir);
  CHECK(sd1.encode("! !! !!!") == std::vector<int64_t>{49406, 256, 748, 995, 49407});
  CHECK(sd2.encode("! !! !!!") == std::vector<int64_t>{49406, 0, 0, 0, 0, 0, 0, 49407});
  // Literal special tokens are split before normalisation, even glued to words.
  CHECK(sd1.encode("cat<|endoftext|>dog") == std::vector<int64_t>{49406, 2368, 49407, 1929, 49407});
  CHECK(sd1.tokenize("x<|startoftext|>") == std::vector<std::string>{"x</w>", "<|startoftext|>"});
  // Upper-case spelling: not an added token, but lower-cased and matched by the CLIP regex.
  CHECK(sd1.encode("cat <|ENDOFTEXT|> dog") == std::vector<int64_t>{49406, 2368, 49407, 1929, 49407});
  // NUL is dropped by the cleaner; "'s" is a contraction only after an apostrophe.
  CHECK(sd1.encode(std::string("a\0b", 3)) == sd1.encode("ab"));
  CHECK(sd1.tokenize("it's") == std::vector<std::string>{"it</w>", "'s</w>"});
}

TEST_CASE("concurrent use gives the same ids", "[tokenizer]") {
  const ClipTokenizer& tok = tokenizer(kSd1Dir);
  std::vector<std::string> prompts;
  for (const json& c : cases_json()["cases"]) prompts.push_back(c["prompt"]);
  std::vector<std::vector<int64_t>> expected;
  for (const auto& p : prompts) expected.push_back(tok.encode(p));
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) {
        for (size_t i = 0; i < prompts.size(); ++i) failures[t] += tok.encode(prompts[i]) != expected[i];
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == std::vector<int>(4, 0));
}

TEST_CASE("load and tokenize timings", "[tokenizer]") {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  ClipTokenizer tok = ClipTokenizer::from_folder(sdw::test::fixture(kSd1Dir));
  const double load_s = std::chrono::duration<double>(clock::now() - t0).count();
  std::string prompt;
  for (const json& c : cases_json()["cases"]) {
    if (c["name"] == "long_over_77") prompt = c["prompt"];
  }
  while (prompt.size() < 400) prompt += " " + prompt;
  prompt.resize(400);
  const auto t1 = clock::now();
  const size_t first = tok.count_tokens(prompt);  // cold BPE cache
  const double cold_ms = std::chrono::duration<double, std::milli>(clock::now() - t1).count();
  const auto t2 = clock::now();
  for (int i = 0; i < 100; ++i) REQUIRE(tok.count_tokens(prompt) == first);
  const double warm_ms = std::chrono::duration<double, std::milli>(clock::now() - t2).count() / 100;
  WARN("load " << load_s << " s; 400-char prompt: " << cold_ms << " ms cold, " << warm_ms << " ms warm");
  // Generous bounds (shared CI machines); typical values are a few times smaller.
  CHECK(load_s < 1.0);
  CHECK(cold_ms < 5.0);
  CHECK(warm_ms < 1.0);
}
