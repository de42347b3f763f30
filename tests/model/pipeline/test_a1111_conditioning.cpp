// model/pipeline/a1111_conditioning: A1111's prompt reading on the real CLIP tokenizer of the
// fixtures and on their tiny text encoders. The expected chunks are derived by hand from A1111's
// sd_hijack_clip.py tokenize_line (each derivation in a comment); the expected encodings are
// computed here from the plain encoder forward on hand-built ids (EmphasisOriginal:
// z * w * mean(z) / mean(z * w) per chunk, chunks concatenated).
#include <catch.hpp>

#include <c10/core/InferenceMode.h>

#include "model/pipeline/a1111_conditioning.h"
#include "model/pipeline/sd_model.h"
#include "test_util.h"

using namespace sdw;

namespace {

int64_t id_of(const ClipTokenizer& tok, const std::string& word) {
  const std::vector<int64_t> ids = tok.encode(word);
  REQUIRE(ids.size() == 3);
  return ids[1];
}

std::string words(const std::string& word, int count) {
  std::string out;
  for (int i = 0; i < count; ++i) out += (i ? " " : "") + word;
  return out;
}

// The chunk's content: its ids between BOS and the first EOS.
std::vector<int> content(const PromptChunk& c, int eos = 49407) {
  std::vector<int> out;
  for (size_t i = 1; i < c.tokens.size() && c.tokens[i] != eos; ++i) out.push_back(c.tokens[i]);
  return out;
}

std::vector<int> repeat(int64_t id, int count) { return std::vector<int>(static_cast<size_t>(count), static_cast<int>(id)); }

std::vector<int> join(std::vector<int> a, const std::vector<int>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// EmphasisOriginal on one chunk, from the plain forward's states z [1, 77, H].
at::Tensor emphasised(const at::Tensor& z, const std::vector<double>& w) {
  const at::Tensor weights = at::tensor(w, at::kDouble).to(at::kFloat).view({1, 77, 1});
  const at::Tensor zw = z * weights;
  return zw * (z.mean() / zw.mean());
}

at::Tensor forward_ids(CLIPTextModel& te, const std::vector<int64_t>& ids) {
  return te->forward(at::tensor(ids, at::kLong).unsqueeze(0)).last_hidden_state;  // [1, 77, H]
}

std::vector<int64_t> chunk_ids(int64_t bos, const std::vector<int64_t>& body, int64_t eos) {
  std::vector<int64_t> ids{bos};
  ids.insert(ids.end(), body.begin(), body.end());
  ids.resize(77, eos);  // EOS after the content, then EOS padding (SD1's pad)
  return ids;
}

}  // namespace

TEST_CASE("A1111 chunks on the CLIP tokenizer: 75-token boundaries and the comma backtrack", "[a1111][prompt]") {
  const ClipTokenizer tok = ClipTokenizer::from_folder(test::fixture("pipelines/tiny-sd15/tokenizer"));
  const int64_t cat = id_of(tok, "cat"), dog = id_of(tok, "dog"), comma = id_of(tok, ",");
  REQUIRE(comma == 267);

  // 80 x "cat" (one token each): the 76th token finds the chunk full (no comma seen), so
  // chunk 1 = cat x 75, chunk 2 = cat x 5 then EOS padding.
  A1111Tokens t = a1111_tokenize(tok, words("cat", 80), {});
  REQUIRE(t.chunks.size() == 2);
  CHECK(content(t.chunks[0]) == repeat(cat, 75));
  CHECK(content(t.chunks[1]) == repeat(cat, 5));
  CHECK(t.chunks[1].tokens.size() == 77);
  CHECK(t.chunks[1].tokens.back() == 49407);

  // cat x 60 "," dog x 20: the comma is token 60 (0-based). When dog #15 (token 75) arrives the
  // chunk holds 75 tokens, last_comma = 60, 75 - 60 = 15 <= 20: the chunk is cut after the comma
  // (cat x 60 + ",", then EOS), the 14 dogs after it move on and the other 6 follow: dog x 20.
  t = a1111_tokenize(tok, words("cat", 60) + ", " + words("dog", 20), {});
  REQUIRE(t.chunks.size() == 2);
  CHECK(content(t.chunks[0]) == join(repeat(cat, 60), {static_cast<int>(comma)}));
  CHECK(content(t.chunks[1]) == repeat(dog, 20));

  // The limit itself: cat x 55 "," (token 55): 75 - 55 = 20 <= 20, cut after the comma.
  t = a1111_tokenize(tok, words("cat", 55) + ", " + words("dog", 25), {});
  REQUIRE(t.chunks.size() == 2);
  CHECK(content(t.chunks[0]) == join(repeat(cat, 55), {static_cast<int>(comma)}));
  CHECK(content(t.chunks[1]) == repeat(dog, 25));
  // cat x 54 "," (token 54): 75 - 54 = 21 > 20, a plain cut at 75: "," and dog x 20 stay.
  t = a1111_tokenize(tok, words("cat", 54) + ", " + words("dog", 26), {});
  REQUIRE(t.chunks.size() == 2);
  CHECK(content(t.chunks[0]) == join(join(repeat(cat, 54), {static_cast<int>(comma)}), repeat(dog, 20)));
  CHECK(content(t.chunks[1]) == repeat(dog, 6));

  // Exactly 75 tokens: one chunk; the empty prompt: one chunk of BOS + EOS x 76.
  CHECK(a1111_tokenize(tok, words("cat", 75), {}).chunks.size() == 1);
  t = a1111_tokenize(tok, "", {});
  REQUIRE(t.chunks.size() == 1);
  CHECK(content(t.chunks[0]).empty());
}

TEST_CASE("A1111 chunks: BREAK, weights per token, escapes; the SD2 pad rule", "[a1111][prompt]") {
  const ClipTokenizer tok = ClipTokenizer::from_folder(test::fixture("pipelines/tiny-sd15/tokenizer"));
  const int64_t a = id_of(tok, "a"), cat = id_of(tok, "cat"), dog = id_of(tok, "dog"), red = id_of(tok, "red");

  // "a cat BREAK a dog": parse gives "a cat", BREAK, "a dog"; BREAK closes the first chunk.
  A1111Tokens t = a1111_tokenize(tok, "a cat BREAK a dog", {});
  REQUIRE(t.chunks.size() == 2);
  CHECK(content(t.chunks[0]) == std::vector<int>{static_cast<int>(a), static_cast<int>(cat)});
  CHECK(content(t.chunks[1]) == std::vector<int>{static_cast<int>(a), static_cast<int>(dog)});

  // "a (red:1.5) [cat] \(dog\)": pieces "a " 1, "red" 1.5, " " 1, "cat" 1/1.1, " (dog)" 1;
  // tokens a, red, cat, "(", dog, ")" with those weights, 1 for BOS, EOS and padding.
  t = a1111_tokenize(tok, "a (red:1.5) [cat] \\(dog\\)", {});
  REQUIRE(t.chunks.size() == 1);
  const std::vector<int64_t> plain = tok.encode("a red cat (dog)");
  CHECK(std::vector<int64_t>(t.chunks[0].tokens.begin(), t.chunks[0].tokens.begin() + 8) == plain);
  const std::vector<double> w(t.chunks[0].multipliers.begin(), t.chunks[0].multipliers.begin() + 9);
  CHECK(w == std::vector<double>{1.0, 1.0, 1.5, 1 / 1.1, 1.0, 1.0, 1.0, 1.0, 1.0});
  CHECK(red == plain[2]);
  // A weight that is not a number is a request error (A1111's ValueError).
  CHECK_THROWS_AS(a1111_tokenize(tok, "a (b:1.2.3)", {}), RequestError);

  // Padding to the other prompt's count: empty chunks (BOS, EOS x 76, weights 1).
  t = a1111_tokenize(tok, "a cat", {});
  pad_chunks(t, 3);
  REQUIRE(t.chunks.size() == 3);
  CHECK(content(t.chunks[2]).empty());
  CHECK(t.chunks[2].tokens.size() == 77);
  CHECK(t.chunks[2].multipliers == std::vector<double>(77, 1.0));

  // SD2/SDXL-2 (pad "!" = 0): everything after the first EOS becomes the pad id.
  const PromptTokens in = chunk_input(a1111_tokenize(tok, "a cat", {}), 0, 0);
  CHECK(std::vector<int64_t>(in.ids.begin(), in.ids.begin() + 5) == std::vector<int64_t>{49406, a, cat, 49407, 0});
  CHECK(in.ids.back() == 0);
  CHECK(chunk_input(a1111_tokenize(tok, "a cat", {}), 0, 49407).ids == tok.encode_padded("a cat"));
}

TEST_CASE("A1111 encoding on tiny-sd15: weights with the mean restored, 75-token chunks", "[a1111][parity]") {
  c10::InferenceMode guard;
  auto model = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  CLIPTextModel& te = model->text_encoder;
  const ClipTokenizer& tok = *model->tokenizer;
  const auto last = [](const CLIPTextOutput& o) { return o.last_hidden_state; };
  const int64_t bos = tok.bos_id(), eos = tok.eos_id();

  // One chunk: "a (red:1.5) [cat]" -> ids of "a red cat", weights 1, 1, 1.5, 1/1.1, then 1.
  const A1111Encoding e = a1111_encode(te, a1111_tokenize(tok, "a (red:1.5) [cat]", {}), tok.pad_id(), false, last, at::kCPU);
  const at::Tensor z = forward_ids(te, tok.encode_padded("a red cat"));
  std::vector<double> w(77, 1.0);
  w[2] = 1.5;
  w[3] = 1 / 1.1;
  REQUIRE(e.states.sizes() == z.sizes());
  const at::Tensor expected = emphasised(z, w);
  CHECK((e.states - expected).abs().max().item<double>() < 1e-6);
  CHECK(std::abs(e.states.mean().item<double>() - z.mean().item<double>()) < 1e-6);  // the mean is kept
  CHECK((e.states - z).abs().max().item<double>() > 1e-3);                            // and the weights did something
  // Without weights the states are the plain (diffusers) encoding, bit for bit.
  CHECK(at::equal(a1111_encode(te, a1111_tokenize(tok, "a red cat", {}), tok.pad_id(), false, last, at::kCPU).states, z));

  // 80 tokens through encode_prompt with CFG: [2, 154, 32]; each chunk the encoder's output
  // on its own ids, the negative "" padded with an empty chunk.
  GenerationRequest req;
  req.prompt = "(" + words("cat", 70) + ":1.2) " + words("dog", 10);
  req.prompt_syntax = PromptSyntax::a1111;
  req.seed = 1;
  const ResolvedRequest r = resolve_request(*model, req);
  const PromptEmbeddings p = encode_prompt(*model, r);
  REQUIRE(p.context.sizes() == at::IntArrayRef{2, 154, 32});
  const int64_t cat = id_of(tok, "cat"), dog = id_of(tok, "dog");
  std::vector<int64_t> first(70, cat), second(5, dog);
  first.insert(first.end(), 5, dog);  // 70 cats and the first 5 dogs fill chunk 1 (no comma)
  std::vector<double> w1(77, 1.0), w2(77, 1.0);
  for (int i = 1; i <= 70; ++i) w1[static_cast<size_t>(i)] = 1.2;
  const at::Tensor c1 = emphasised(forward_ids(te, chunk_ids(bos, first, eos)), w1);
  const at::Tensor c2 = emphasised(forward_ids(te, chunk_ids(bos, second, eos)), w2);
  const at::Tensor empty = forward_ids(te, chunk_ids(bos, {}, eos));
  CHECK((p.context[1] - at::cat({c1, c2}, 1)[0]).abs().max().item<double>() < 1e-6);
  CHECK((p.context[0] - at::cat({empty, empty}, 1)[0]).abs().max().item<double>() < 1e-6);
  // The diffusers reading of the same prompt: 77 tokens, cut.
  req.prompt_syntax = PromptSyntax::diffusers;
  CHECK(encode_prompt(*model, resolve_request(*model, req)).context.size(1) == 77);
}

TEST_CASE("A1111 encoding: textual-inversion names keep working inside weights", "[a1111][embeddings]") {
  c10::InferenceMode guard;
  auto model = load_diffusers_model(test::fixture("pipelines/tiny-sd15"), ModelLoadOptions{});
  CLIPTextModel& te = model->text_encoder;
  const ClipTokenizer& tok = *model->tokenizer;
  auto emb = std::make_shared<TextualInversion>();
  emb->name = "myemb";
  emb->vectors = te->text_model->token_embedding->weight[id_of(tok, "photo")].unsqueeze(0).clone();  // [1, 32]
  const EmbeddingSet set{emb};
  const auto last = [](const CLIPTextOutput& o) { return o.last_hidden_state; };
  const A1111Tokens t = a1111_tokenize(tok, "a (myemb:1.3) of a cat", set);
  REQUIRE(t.chunks[0].fixes.size() == 1);
  CHECK(t.chunks[0].fixes[0].position == 2);
  CHECK(t.chunks[0].multipliers[2] == 1.3);
  const at::Tensor ours = a1111_encode(te, t, tok.pad_id(), false, last, at::kCPU).states;
  const at::Tensor words = a1111_encode(te, a1111_tokenize(tok, "a (photo:1.3) of a cat", {}), tok.pad_id(), false, last, at::kCPU).states;
  CHECK(at::equal(ours, words));
}

TEST_CASE("A1111 encoding on tiny-sdxl: both encoders per chunk, pooled from the first, zero empty negative", "[a1111][parity]") {
  c10::InferenceMode guard;
  auto model = load_diffusers_model(test::fixture("pipelines/tiny-sdxl"), ModelLoadOptions{});
  REQUIRE(model->force_zeros_for_empty_prompt);
  GenerationRequest req;
  req.prompt = words("horse", 80);
  req.prompt_syntax = PromptSyntax::a1111;
  req.seed = 1;
  req.guidance = 5.0;
  const PromptEmbeddings p = encode_prompt(*model, resolve_request(*model, req));
  const int64_t width = model->text_encoder->config().hidden_size + model->text_encoder_2->config().hidden_size;
  REQUIRE(p.context.sizes() == at::IntArrayRef{2, 154, width});
  // The empty negative: zeros for its own chunk, the empty-prompt encoding for the padding chunk.
  CHECK(p.context[0].narrow(0, 0, 77).abs().max().item<double>() == 0);
  CHECK(p.context[0].narrow(0, 77, 77).abs().max().item<double>() > 0);
  CHECK(p.added.text_embeds[0].abs().max().item<double>() == 0);
  // The pooled output is text_encoder_2's on the first chunk: 75 horses (pad 0 after the EOS).
  const ClipTokenizer& tok2 = *model->tokenizer_2;
  std::vector<int64_t> ids(1, tok2.bos_id());
  ids.insert(ids.end(), 75, id_of(tok2, "horse"));
  ids.push_back(tok2.eos_id());
  const at::Tensor pooled = model->text_encoder_2->forward(at::tensor(ids, at::kLong).unsqueeze(0)).text_embeds;
  CHECK((p.added.text_embeds[1] - pooled[0]).abs().max().item<double>() < 1e-6);
  // Each chunk's states are the penultimate layer of both encoders (weights 1: no change).
  const at::Tensor g = model->text_encoder_2->forward(at::tensor(ids, at::kLong).unsqueeze(0)).hidden_states.end()[-2];
  CHECK((p.context[1].narrow(0, 0, 77).narrow(1, width - g.size(2), g.size(2)) - g[0]).abs().max().item<double>() < 1e-6);
}
