// Textual-inversion embeddings through the real binary: `sd-worker serve --embeddings-dir` lists
// the folder (`GET /v1/embeddings`: usable ones, ones for another model, broken files, not what a
// symlink leads out to) and a job whose prompt says an embedding's name gives, byte for byte, the
// image of the words whose token rows the embedding holds; `sd-worker generate --embeddings-dir`
// does the same on the command line, and so does an `sd-worker node --embeddings-dir` serving the
// encoder stage to `generate --stage`; A1111's `GET /sdapi/v1/embeddings` sorts them into loaded
// and skipped. The embedding is written here from the fixture's own text
// encoder rows, so equality is the expected answer (see tests/model/embeddings for why).
#include <catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "e2e/http_harness.h"
#include "e2e/node_process.h"
#include "model/image/image_io.h"
#include "model/safetensors/safetensors.h"
#include "model/tokenizer/clip_tokenizer.h"
#include "test_util.h"

using namespace sdw;
using namespace sdw::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* kPlainPrompt = "a photo of an astronaut riding a horse on mars";
const char* kEmbeddingPrompt = "a photo of an Astro-Rider a horse on mars";

// An A1111 embedding holding the tiny-sd15 text encoder's rows of `words`, [n, 32].
void write_word_embedding(const fs::path& path, const std::vector<std::string>& words) {
  const std::string folder = fixture("pipelines/tiny-sd15");
  const ClipTokenizer tok = ClipTokenizer::from_folder(folder + "/tokenizer");
  const at::Tensor table =
      SafetensorsFile::open(folder + "/text_encoder/model.safetensors").get("text_model.embeddings.token_embedding.weight");
  std::vector<at::Tensor> rows;
  for (const auto& w : words) {
    const std::vector<int64_t> ids = tok.encode(w);
    REQUIRE(ids.size() == 3);
    rows.push_back(table[ids[1]].to(at::kFloat));
  }
  save_safetensors(path.string(), {{"emb_params", at::stack(rows).contiguous()}});
}

json job(const std::string& model, const std::string& prompt) {
  return {{"operation", "image_generation"}, {"hive_id", "h"}, {"model", model}, {"prompt", prompt},
          {"negative_prompt", "blurry"}, {"width", 64}, {"height", 64}, {"steps", 3}, {"seed", 11}};
}

// The complete event's image pixels (the PNG bytes differ: its parameters hold the prompt).
std::vector<uint8_t> run(int port, const json& j) {
  const HttpReply r = post_json(port, j);
  INFO(r.raw);
  REQUIRE(r.status == 200);
  const SseStream s = read_sse(port, "/v1/jobs/" + r.body["job_id"].get<std::string>() + "/stream");
  REQUIRE(s.named("complete").size() == 1);
  return decode_image_base64(s.named("complete")[0].json()["image"].get<std::string>()).pixels;
}

struct Folder {
  fs::path root;
  Folder() {
    root = fs::temp_directory_path() / ("sdw_embeddings_e2e_" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root / "emb");
    write_word_embedding(root / "emb/Astro-Rider.safetensors", {"astronaut", "riding"});
    save_safetensors((root / "emb/xl-style.safetensors").string(), {{"clip_l", at::zeros({1, 32})}, {"clip_g", at::zeros({1, 64})}});
    std::ofstream(root / "emb/broken.safetensors") << "not safetensors";
    write_word_embedding(root / "outside.safetensors", {"horse"});
    fs::create_symlink(root / "outside.safetensors", root / "emb/escape.safetensors");
  }
  ~Folder() { fs::remove_all(root); }
};

}  // namespace

TEST_CASE("serve: a prompt naming an embedding gives the image of its words; the folder is listed", "[e2e][embeddings]") {
  Folder f;
  WorkerProcess w({"--model", fixture("pipelines/tiny-sd15"), "--min-side", "64", "--embeddings-dir", (f.root / "emb").string()});
  const std::string id = http_get(w.port(), "/v1/models").body["data"][0]["id"];
  const std::vector<uint8_t> plain = run(w.port(), job(id, kPlainPrompt));
  CHECK(run(w.port(), job(id, kEmbeddingPrompt)) == plain);
  CHECK(run(w.port(), job(id, "a photo of an Astro-Riders a horse on mars")) != plain);  // not the name: plain words

  const HttpReply r = http_get(w.port(), "/v1/embeddings");
  INFO(r.raw);
  REQUIRE(r.status == 200);
  const json& data = r.body["data"];
  REQUIRE(data.size() == 3);  // escape.safetensors leads out of the folder: not listed
  CHECK(data[0]["name"] == "Astro-Rider");
  CHECK(data[0]["prompt_name"] == "Astro-Rider");
  CHECK(data[0]["format"] == "a1111");
  CHECK(data[0]["vectors"] == 2);
  CHECK(data[0]["widths"] == json::array({32}));
  CHECK(data[0]["usable"] == true);
  CHECK(data[1]["name"] == "broken");
  CHECK_THAT(data[1]["error"].get<std::string>(), Catch::Contains("not a valid safetensors"));
  CHECK(data[2]["name"] == "xl-style");
  CHECK(data[2]["usable"] == false);
  CHECK_THAT(data[2]["reason"].get<std::string>(), Catch::Contains("SDXL embedding"));

  // A1111's listing: by prompt name, the fitting ones loaded, the others skipped, broken files in neither.
  const HttpReply a1111 = http_get(w.port(), "/sdapi/v1/embeddings");
  INFO(a1111.raw);
  REQUIRE(a1111.status == 200);
  CHECK(a1111.body["loaded"].size() == 1);
  CHECK(a1111.body["loaded"]["Astro-Rider"]["shape"] == 32);
  CHECK(a1111.body["loaded"]["Astro-Rider"]["vectors"] == 2);
  CHECK(a1111.body["skipped"].size() == 1);
  CHECK(a1111.body["skipped"]["xl-style"]["vectors"] == 1);
}

TEST_CASE("generate --embeddings-dir: the embedding's name gives the image of its words", "[e2e][embeddings][cli]") {
  Folder f;
  TempDir tmp;
  auto gen = [&](const std::string& prompt, const std::string& out, bool with_dir) {
    std::vector<std::string> argv = {SDW_WORKER_BINARY, "generate", "--model", fixture("pipelines/tiny-sd15"), "--prompt", prompt,
                                     "--negative-prompt", "blurry", "--width", "64", "--height", "64", "--steps", "3",
                                     "--seed", "11", "--output", tmp.file(out)};
    if (with_dir) argv.insert(argv.end(), {"--embeddings-dir", (f.root / "emb").string()});
    const ProcessResult p = run_process(argv);
    INFO(p.output());
    REQUIRE(p.exit_code == 0);
    return load_image(tmp.file(out)).pixels;
  };
  const auto plain = gen(kPlainPrompt, "plain.png", false);
  CHECK(gen(kEmbeddingPrompt, "emb.png", true) == plain);
  CHECK(gen(kEmbeddingPrompt, "no_dir.png", false) != plain);
  const ProcessResult missing = run_process({SDW_WORKER_BINARY, "generate", "--prompt", "x", "--embeddings-dir", tmp.file("nope")});
  CHECK(missing.exit_code != 0);
  CHECK_THAT(missing.output(), Catch::Contains("--embeddings-dir"));
}

TEST_CASE("node --embeddings-dir: a node serving the encoder resolves the prompt's embedding itself",
          "[e2e][embeddings][distributed]") {
  Folder f;
  TempDir tmp;
  const std::string emb = (f.root / "emb").string();
  NodeProcess with_dir({"--model", fixture("pipelines/tiny-sd15"), "--stages", "encoder", "--insecure-plaintext",
                        "--embeddings-dir", emb});
  NodeProcess without({"--model", fixture("pipelines/tiny-sd15"), "--stages", "encoder", "--insecure-plaintext"});
  auto gen = [&](const std::string& prompt, const std::string& out, const NodeProcess& node) {
    std::vector<std::string> argv = {SDW_WORKER_BINARY, "generate", "--model", fixture("pipelines/tiny-sd15"), "--prompt", prompt,
                                     "--negative-prompt", "blurry", "--width", "64", "--height", "64", "--steps", "3",
                                     "--seed", "11", "--output", tmp.file(out), "--stage", "encoder=" + node.address(),
                                     "--insecure-plaintext"};
    const ProcessResult p = run_process(argv);
    INFO(p.output());
    REQUIRE(p.exit_code == 0);
    CHECK_THAT(p.out, Catch::Contains("stage encoder: node " + node.address() + " up, 1 request(s)"));
    return load_image(tmp.file(out)).pixels;
  };
  // The front (generate) has no --embeddings-dir: the node's folder alone makes the name the words.
  const auto plain = gen(kPlainPrompt, "plain.png", without);
  CHECK(gen(kEmbeddingPrompt, "emb.png", with_dir) == plain);
  CHECK(gen(kEmbeddingPrompt, "no_dir.png", without) != plain);
}
