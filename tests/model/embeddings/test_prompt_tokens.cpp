// Embeddings in prompts, tested by equivalence on the fixtures' text encoders (tiny-sd15 and
// tiny-sdxl with their real CLIP tokenizers): an embedding whose vector is an existing token's
// embedding row gives exactly that token's encoder output; a 2-vector embedding takes two token
// slots (so it stands for two words and shifts the later tokens by one); SDXL's pooled output
// still comes from the EOS token. Then name matching (whole words, any case, longest first,
// diffusers tokens) and truncation, and the pipeline: an image with the embedding's name equals
// the image of the words it stands for, byte for byte.
#include <catch.hpp>

#include "model/embeddings/prompt_tokens.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/sd_model.h"
#include "model/safetensors/safetensors.h"
#include "test_util.h"

using namespace sdw;

namespace {

int64_t token_id(const ClipTokenizer& tok, const std::string& word) {
  const std::vector<int64_t> ids = tok.encode(word);
  REQUIRE(ids.size() == 3);  // BOS, the word, EOS
  return ids[1];
}

// The token-embedding rows of words, [n, H].
at::Tensor rows_of(CLIPTextModel& te, const ClipTokenizer& tok, const std::vector<std::string>& words) {
  std::vector<at::Tensor> rows;
  for (const auto& w : words) rows.push_back(te->text_model->token_embedding->weight[token_id(tok, w)].clone());
  return at::stack(rows);
}

std::shared_ptr<const TextualInversion> embedding(const std::string& name, at::Tensor vectors, at::Tensor vectors_2 = {}) {
  auto e = std::make_shared<TextualInversion>();
  e->name = name;
  e->vectors = std::move(vectors);
  e->vectors_2 = std::move(vectors_2);
  return e;
}

CLIPTextOutput encode_plain(CLIPTextModel& te, const ClipTokenizer& tok, const std::string& text) {
  return te->forward(at::tensor(tok.encode_padded(text), at::kLong).unsqueeze(0));
}

}  // namespace

TEST_CASE("a 1-vector embedding equal to a token's row encodes exactly as that token", "[embeddings][parity]") {
  c10::InferenceMode guard;
  auto model = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  const ClipTokenizer& tok = *model->tokenizer;
  const EmbeddingSet set{embedding("myemb", rows_of(model->text_encoder, tok, {"photo"}))};
  const PromptTokens t = tokenize_prompt(tok, "a myemb of an astronaut", set);
  REQUIRE(t.slots.size() == 1);
  CHECK(t.slots[0].position == 2);
  CHECK(t.used == std::vector<std::string>{"myemb"});
  const CLIPTextOutput ours = encode_prompt_tokens(model->text_encoder, t, false, at::kCPU);
  const CLIPTextOutput plain = encode_plain(model->text_encoder, tok, "a photo of an astronaut");
  CHECK(at::equal(ours.last_hidden_state, plain.last_hidden_state));
  for (size_t i = 0; i < plain.hidden_states.size(); ++i) CHECK(at::equal(ours.hidden_states[i], plain.hidden_states[i]));
  CHECK(at::equal(ours.pooler_output, plain.pooler_output));
  // And it is not the encoding of the literal word: the slot did something.
  CHECK_FALSE(at::equal(ours.last_hidden_state, encode_plain(model->text_encoder, tok, "a myemb of an astronaut").last_hidden_state));
}

TEST_CASE("a 2-vector embedding takes two slots and shifts the later tokens by one", "[embeddings][parity]") {
  c10::InferenceMode guard;
  auto model = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  const ClipTokenizer& tok = *model->tokenizer;
  const EmbeddingSet set{embedding("two-words", rows_of(model->text_encoder, tok, {"photo", "of"}))};
  const PromptTokens t = tokenize_prompt(tok, "a two-words an astronaut", set);
  REQUIRE(t.slots.size() == 2);
  CHECK(t.slots[0].position == 2);
  CHECK(t.slots[1].position == 3);
  CHECK(t.slots[1].vector == 1);
  const std::vector<int64_t> plain_ids = tok.encode_padded("a photo of an astronaut");
  for (size_t i = 0; i < plain_ids.size(); ++i)
    if (i != 2 && i != 3) CHECK(t.ids[i] == plain_ids[i]);  // "an astronaut", EOS and padding one slot later than with 1 vector
  CHECK(at::equal(encode_prompt_tokens(model->text_encoder, t, false, at::kCPU).last_hidden_state,
                  encode_plain(model->text_encoder, tok, "a photo of an astronaut").last_hidden_state));
}

TEST_CASE("SDXL: clip_l and clip_g vectors go to their encoders; the pooled output is the EOS token's", "[embeddings][parity]") {
  c10::InferenceMode guard;
  auto model = load_diffusers_model(test::fixture("pipelines/tiny-sdxl"), ModelLoadOptions{});
  const EmbeddingSet set{embedding("xlemb", rows_of(model->text_encoder, *model->tokenizer, {"horse"}),
                                   rows_of(model->text_encoder_2, *model->tokenizer_2, {"horse"}))};
  for (int i = 0; i < 2; ++i) {
    INFO("text encoder " << i + 1);
    CLIPTextModel& te = i == 0 ? model->text_encoder : model->text_encoder_2;
    const ClipTokenizer& tok = i == 0 ? *model->tokenizer : *model->tokenizer_2;
    const CLIPTextOutput ours = encode_prompt_tokens(te, tokenize_prompt(tok, "riding a xlemb on mars", set), i == 1, at::kCPU);
    const CLIPTextOutput plain = encode_plain(te, tok, "riding a horse on mars");
    CHECK(at::equal(ours.hidden_states.end()[-2], plain.hidden_states.end()[-2]));
    CHECK(at::equal(ours.pooler_output, plain.pooler_output));
    if (i == 1) CHECK(at::equal(ours.text_embeds, plain.text_embeds));
  }
}

TEST_CASE("names match as whole words in any case, longest first; diffusers files also by their token", "[embeddings]") {
  const ClipTokenizer tok = ClipTokenizer::from_folder(test::fixture("pipelines/tiny-sd15/tokenizer"));
  auto short_one = embedding("ink", at::zeros({1, 32}));
  auto long_one = embedding("ink style", at::zeros({2, 32}));
  auto diffusers = std::make_shared<TextualInversion>(*embedding("learned_embeds", at::zeros({1, 32})));
  diffusers->token = "<cat-toy>";
  const EmbeddingSet set{short_one, long_one, diffusers};
  auto used = [&](const std::string& text) { return tokenize_prompt(tok, text, set).used; };
  using names = std::vector<std::string>;
  CHECK(used("a drawing, INK, red") == names{"ink"});
  CHECK(used("a drawing in ink style") == names{"ink style"});
  CHECK(used("inky blackness, pink_ink, ink2") == names{});
  CHECK(used("a <cat-toy>on a table, learned_embeds") == names{"learned_embeds"});
  CHECK(tokenize_prompt(tok, "a <cat-toy>on a <CAT-TOY>", set).slots.size() == 2);
  // Without a name in the text: exactly the tokenizer's ids, no slots.
  const PromptTokens none = tokenize_prompt(tok, "inky blackness", set);
  CHECK(none.ids == tok.encode_padded("inky blackness"));
  CHECK(none.slots.empty());
  CHECK(tokenize_prompt(tok, "a drawing, ink", {}).ids == tok.encode_padded("a drawing, ink"));
}

TEST_CASE("slots past the 75th content token are cut, as text is", "[embeddings]") {
  const ClipTokenizer tok = ClipTokenizer::from_folder(test::fixture("pipelines/tiny-sd15/tokenizer"));
  const EmbeddingSet set{embedding("ink", at::zeros({3, 32}))};
  std::string text;
  for (int i = 0; i < 73; ++i) text += "cat ";
  const PromptTokens t = tokenize_prompt(tok, text + "ink dog", set);  // 73 words + 3 slots + 1 word
  REQUIRE(t.ids.size() == 77);
  CHECK(t.slots.size() == 2);  // slots 74 and 75 fit, the third does not
  CHECK(t.slots.back().position == 75);
  CHECK(t.ids[76] == tok.eos_id());
}

TEST_CASE("generate: the embedding's name gives the image of the words it stands for", "[embeddings][parity]") {
  test::TempDir dir;
  auto model = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  {
    c10::InferenceMode guard;
    save_safetensors(dir.file("astro.safetensors"), {{"emb_params", rows_of(model->text_encoder, *model->tokenizer, {"astronaut", "riding"})}});
  }
  model->embeddings = std::make_shared<EmbeddingLibrary>(std::vector<std::filesystem::path>{dir.path()});
  GenerationRequest req;
  req.prompt = "a photo of an astronaut riding a horse";
  req.negative_prompt = "blurry astronaut riding";
  req.width = req.height = 32;
  req.steps = 3;
  req.seed = 7;
  const GenerationResult plain = generate(*model, req);
  req.prompt = "a photo of an astro a horse";
  req.negative_prompt = "blurry astro";
  const GenerationResult with = generate(*model, req);
  CHECK(with.images.at(0).pixels == plain.images.at(0).pixels);
  req.negative_prompt = "blurry astronaut riding";
  CHECK(generate(*model, req).images.at(0).pixels == plain.images.at(0).pixels);
  model->embeddings.reset();  // without the folder the name is a plain word: another image
  CHECK(generate(*model, req).images.at(0).pixels != plain.images.at(0).pixels);
}
