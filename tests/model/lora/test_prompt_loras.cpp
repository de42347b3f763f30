// A1111's `<lora:name:weight>` prompt syntax (prompt_loras.h): tags out, names and strengths in
// order, the rest of the text as written; the clean prompt tokenizes as the prompt typed without
// the tag (the CLIP tokenizer of data/tokenizer, as the worker ships it).
#include <catch.hpp>

#include "model/lora/lora_file.h"
#include "model/lora/prompt_loras.h"
#include "model/pipeline/sd_model.h"
#include "model/tokenizer/clip_tokenizer.h"

using namespace sdw;

TEST_CASE("tags are cut out, the text around them kept as written", "[lora][prompt]") {
  PromptLoras p = extract_prompt_loras("a photo of a cat <lora:add_detail:0.8>, <lora:ink>best quality");
  CHECK(p.prompt == "a photo of a cat , best quality");
  REQUIRE(p.loras.size() == 2);
  CHECK(p.loras[0].name == "add_detail");
  CHECK(p.loras[0].strength == 0.8);
  CHECK(p.loras[1].name == "ink");
  CHECK(p.loras[1].strength == 1.0);

  p = extract_prompt_loras("<lora:a:-0.5>x<lyco:b:1e-1>");
  CHECK(p.prompt == "x");
  REQUIRE(p.loras.size() == 2);
  CHECK(p.loras[0].strength == -0.5);
  CHECK(p.loras[1].strength == 0.1);

  p = extract_prompt_loras("styles/ink <lora:styles/ink: 0.7 > end");
  CHECK(p.prompt == "styles/ink  end");
  REQUIRE(p.loras.size() == 1);
  CHECK(p.loras[0].name == "styles/ink");
  CHECK(p.loras[0].strength == 0.7);

  // te= / unet= as A1111's Lora extension reads them, when they agree.
  p = extract_prompt_loras("<lora:a:te=0.3:unet=0.3>");
  REQUIRE(p.loras.size() == 1);
  CHECK(p.loras[0].strength == 0.3);
  CHECK(extract_prompt_loras("<lora:a:0.5:0.5>").loras.at(0).strength == 0.5);
}

TEST_CASE("text that is not a LoRA tag stays", "[lora][prompt]") {
  for (const std::string s : {"a < b > c", "<>", "<lora:>", "<lora>", "<:x>", "1 <2", "<lora:x", "(cat:1.2) <b>"}) {
    INFO(s);
    const PromptLoras p = extract_prompt_loras(s);
    CHECK(p.prompt == s);
    CHECK(p.loras.empty());
  }
  const PromptLoras h = extract_prompt_loras("a <hypernet:foo:1> b");
  CHECK(h.prompt == "a <hypernet:foo:1> b");
  CHECK(h.loras.empty());
}

TEST_CASE("bad tags are errors naming the tag", "[lora][prompt]") {
  CHECK_THROWS_WITH(extract_prompt_loras("x <lora:a:strong>"), Catch::Contains("<lora:a:strong>") && Catch::Contains("strength"));
  CHECK_THROWS_AS(extract_prompt_loras("<lora:a:nan>"), LoraError);
  CHECK_THROWS_AS(extract_prompt_loras("<lora:a:1:0.5>"), LoraError);  // UNet strength differs
  CHECK_THROWS_AS(extract_prompt_loras("<lora:a:1:1:8>"), LoraError);  // dyn
  CHECK_THROWS_AS(extract_prompt_loras("<lora::1>"), LoraError);       // no name
}

TEST_CASE("the clean prompt tokenizes as the prompt without the tag", "[lora][prompt]") {
  const ClipTokenizer tok = ClipTokenizer::from_folder(data_dir() + "/tokenizer/clip-vit-large-patch14");
  const std::pair<const char*, const char*> cases[] = {
      {"a photo of a cat <lora:x:0.8>", "a photo of a cat"},
      {"<lora:x:0.8> a photo of a cat", "a photo of a cat"},
      {"a photo <lora:x> of a cat", "a photo of a cat"},
      {"a photo of a cat, <lora:x:1>, best quality", "a photo of a cat, , best quality"},
      {"masterpiece,<lora:x:1>best quality", "masterpiece,best quality"},
      {"a red cube\n<lora:x:0.5>\non a table", "a red cube on a table"},
  };
  for (const auto& [with_tag, typed] : cases) {
    INFO(with_tag);
    const PromptLoras p = extract_prompt_loras(with_tag);
    CHECK(tok.encode_padded(p.prompt) == tok.encode_padded(typed));
  }
}
