// Textual-inversion files (A1111's emb_params / string_to_param / clip_l + clip_g, diffusers'
// one-token files) and the refusals (pickles, foreign layouts, bad values), and the embedding
// folders (listing, errors, re-reading a changed file, which embeddings fit which model).
#include <catch.hpp>

#include <filesystem>
#include <fstream>

#include "model/embeddings/embedding_library.h"
#include "model/embeddings/textual_inversion.h"
#include "model/safetensors/safetensors.h"
#include "test_util.h"

using namespace sdw;
namespace fs = std::filesystem;

namespace {

at::Tensor ramp(int64_t n, int64_t dim, double offset = 0) {
  return (at::arange(n * dim, at::kFloat).reshape({n, dim}) / 100.0 + offset).contiguous();  // [n, dim]
}

std::string write_embedding(const test::TempDir& dir, const std::string& file, const std::map<std::string, at::Tensor>& tensors) {
  const std::string path = dir.file(file);
  fs::create_directories(fs::path(path).parent_path());
  save_safetensors(path, tensors);
  return path;
}

}  // namespace

TEST_CASE("the A1111 and diffusers layouts read into their vectors", "[embeddings]") {
  test::TempDir dir;
  SECTION("A1111 emb_params, 2 vectors; the name is the file's") {
    const TextualInversion e = read_textual_inversion(write_embedding(dir, "ink-style.safetensors", {{"emb_params", ramp(2, 32)}}));
    CHECK(e.name == "ink-style");
    CHECK(e.format == "a1111");
    CHECK(e.token.empty());
    CHECK(e.num_vectors() == 2);
    CHECK(at::equal(e.vectors, ramp(2, 32)));
    CHECK_FALSE(e.is_sdxl());
  }
  SECTION("A1111 string_to_param.*, stored in fp16") {
    const TextualInversion e = read_textual_inversion(
        write_embedding(dir, "old.safetensors", {{"string_to_param.*", ramp(3, 32).to(at::kHalf)}}));
    CHECK(e.format == "a1111");
    CHECK(e.vectors.scalar_type() == at::kFloat);
    CHECK(at::equal(e.vectors, ramp(3, 32).to(at::kHalf).to(at::kFloat)));
  }
  SECTION("SDXL clip_l + clip_g") {
    const TextualInversion e = read_textual_inversion(
        write_embedding(dir, "xl.safetensors", {{"clip_l", ramp(2, 32)}, {"clip_g", ramp(2, 64, 1)}}));
    CHECK(e.format == "a1111-sdxl");
    CHECK(e.is_sdxl());
    CHECK(at::equal(e.vectors, ramp(2, 32)));
    CHECK(at::equal(e.vectors_2, ramp(2, 64, 1)));
  }
  SECTION("diffusers learned_embeds: one tensor named after its token, [dim]") {
    const TextualInversion e = read_textual_inversion(
        write_embedding(dir, "learned_embeds.safetensors", {{"<cat-toy>", ramp(1, 32).reshape({32})}}));
    CHECK(e.format == "diffusers");
    CHECK(e.token == "<cat-toy>");
    CHECK(e.name == "learned_embeds");
    CHECK(e.num_vectors() == 1);
    CHECK(at::equal(e.vectors, ramp(1, 32)));
  }
}

TEST_CASE("pickles, foreign layouts and bad vectors are refused with the file's name", "[embeddings]") {
  test::TempDir dir;
  for (const char* ext : {".pt", ".bin", ".ckpt"}) {
    const std::string path = dir.file(std::string("emb") + ext);
    std::ofstream(path) << "whatever";
    CHECK_THROWS_WITH(read_textual_inversion(path), Catch::Contains("pickle") && Catch::Contains(path));
  }
  const std::string disguised = dir.file("disguised.safetensors");
  std::ofstream(disguised, std::ios::binary) << std::string("\x80\x04\x95", 3) << "rest";
  CHECK_THROWS_WITH(read_textual_inversion(disguised), Catch::Contains("pickle"));
  const std::string junk = dir.file("junk.safetensors");
  std::ofstream(junk, std::ios::binary) << "not a safetensors file at all";
  CHECK_THROWS_WITH(read_textual_inversion(junk), Catch::Contains("not a valid safetensors"));

  const std::string lora = write_embedding(dir, "lora.safetensors", {{"a.lora_down.weight", ramp(2, 32)}, {"a.lora_up.weight", ramp(32, 2)}});
  CHECK_THROWS_WITH(read_textual_inversion(lora), Catch::Contains("not a textual-inversion embedding") && Catch::Contains("'a.lora_down.weight'"));
  const std::string half_xl = write_embedding(dir, "half.safetensors", {{"clip_l", ramp(2, 32)}});
  CHECK_THROWS_WITH(read_textual_inversion(half_xl), Catch::Contains("'clip_l' and 'clip_g'"));
  const std::string uneven = write_embedding(dir, "uneven.safetensors", {{"clip_l", ramp(2, 32)}, {"clip_g", ramp(3, 64)}});
  CHECK_THROWS_WITH(read_textual_inversion(uneven), Catch::Contains("clip_l holds 2 vectors but clip_g 3"));
  at::Tensor nan = ramp(1, 32);
  nan[0][3] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(read_textual_inversion(write_embedding(dir, "nan.safetensors", {{"emb_params", nan}})), Catch::Contains("NaN"));
  CHECK_THROWS_WITH(read_textual_inversion(write_embedding(dir, "long.safetensors", {{"emb_params", ramp(76, 32)}})),
                    Catch::Contains("76 vectors"));
  CHECK_THROWS_WITH(read_textual_inversion(write_embedding(dir, "ints.safetensors", {{"emb_params", at::ones({1, 32}, at::kLong)}})),
                    Catch::Contains("not a float tensor"));
  CHECK_THROWS_WITH(read_textual_inversion(write_embedding(dir, "cube.safetensors", {{"emb_params", at::ones({1, 2, 32})}})),
                    Catch::Contains("[1, 2, 32]"));
}

TEST_CASE("an embedding fits a model by its vectors' widths", "[embeddings]") {
  TextualInversion sd1;
  sd1.vectors = ramp(1, 768);
  CHECK(sd1.mismatch(768, 0).empty());
  CHECK_THAT(sd1.mismatch(1024, 0), Catch::Contains("768 wide") && Catch::Contains("1024"));
  CHECK_THAT(sd1.mismatch(768, 1280), Catch::Contains("SDXL models need clip_l and clip_g"));
  TextualInversion xl = sd1;
  xl.vectors_2 = ramp(1, 1280);
  CHECK(xl.mismatch(768, 1280).empty());
  CHECK_THAT(xl.mismatch(768, 0), Catch::Contains("an SDXL embedding"));
}

TEST_CASE("the embedding folders list every file, keep errors, re-read changed files, and offer what fits", "[embeddings]") {
  test::TempDir dir;
  write_embedding(dir, "a/one.safetensors", {{"emb_params", ramp(1, 32)}});
  write_embedding(dir, "a/styles/two.safetensors", {{"emb_params", ramp(2, 64)}});
  write_embedding(dir, "a/xl.safetensors", {{"clip_l", ramp(1, 32)}, {"clip_g", ramp(1, 64)}});
  std::ofstream(dir.file("a/broken.safetensors")) << "broken";
  std::ofstream(dir.file("a/ignored.pt")) << "pickle";
  EmbeddingLibrary library({dir.file("a")});
  std::vector<EmbeddingEntry> entries = library.entries();
  REQUIRE(entries.size() == 4);  // the .pt file is not an allowed extension: never listed, never read
  CHECK(entries[0].name == "broken");
  CHECK(entries[0].embedding == nullptr);
  CHECK_THAT(entries[0].error, Catch::Contains("not a valid safetensors"));
  CHECK(entries[1].name == "one");
  CHECK(entries[2].name == "styles/two");
  CHECK(entries[2].embedding->name == "two");
  CHECK(entries[3].name == "xl");

  auto names = [](const std::vector<std::shared_ptr<const TextualInversion>>& v) {
    std::vector<std::string> out;
    for (const auto& e : v) out.push_back(e->name);
    return out;
  };
  CHECK(names(library.usable(32, 0)) == std::vector<std::string>{"one"});
  CHECK(names(library.usable(64, 0)) == std::vector<std::string>{"two"});
  CHECK(names(library.usable(32, 64)) == std::vector<std::string>{"xl"});

  // A file replaced by one of another size is read again; a removed file is gone.
  const auto before = library.entries()[1].embedding;
  write_embedding(dir, "a/one.safetensors", {{"emb_params", ramp(3, 32, 5)}});
  fs::remove(dir.file("a/xl.safetensors"));
  entries = library.entries();
  REQUIRE(entries.size() == 3);
  CHECK(entries[1].embedding != before);
  CHECK(at::equal(entries[1].embedding->vectors, ramp(3, 32, 5)));
  CHECK(library.usable(32, 64).empty());
  // An unchanged file is not read again.
  CHECK(library.entries()[1].embedding == entries[1].embedding);
}
