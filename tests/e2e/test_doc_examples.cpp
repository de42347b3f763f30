// The examples of docs/EXAMPLES.md and docs/API.md, run as written against the real binary, so
// that the documents stay true. A fenced ```sh / ```bash block preceded by the HTML comment
//   <!-- example: run [server=NAME] [saves=a.png,b.png] -->
// is run with `bash -euo pipefail`, a ```js block with the same comment with `node` (Node >= 20,
// for fetch; skipped with a message where node is missing). The examples are written against
// http://localhost:8080; the test rewrites that to the worker it started. `server` picks it:
//   demo  (default) `serve --model demo --embeddings-dir <dir with my-style.safetensors>`
//   lora  `serve --model demo --model-alias v1-5 --lora-dir <dir with papercut.safetensors>`, a
//         LoRA written here for the demo model's shapes (the examples name a real SD1.5 model)
//   auth  `serve --model demo --api-token change-me`
// The blocks of one document run in order in one working directory that holds photo.png (a
// 256x256 picture) and mask.png (white rectangle = repaint), so a later example may use an
// earlier one's output. Each must exit 0 within 60 s, and every file in `saves` must be a PNG
// that decodes. A shell or JS block that talks to localhost:8080 without such a comment (or
// `<!-- example: skip REASON -->`) fails the test. Convention: docs/TESTING.md.
#include <catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>

#include "e2e/http_harness.h"
#include "model/image/image_io.h"
#include "model/safetensors/safetensors.h"
#include "test_util.h"

using namespace sdw;
using namespace sdw::test;
namespace fs = std::filesystem;

namespace {

struct Example {
  std::string doc;
  int line = 0;  // of the opening fence
  std::string lang;  // sh | js
  std::string server = "demo";
  std::vector<std::string> saves;
  std::string code;
};

std::string docs_dir() { return std::string(SDW_E2E_DIR) + "/../../docs"; }

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);)
    if (!part.empty()) out.push_back(part);
  return out;
}

// The marked blocks of `doc`; unmarked blocks that use the worker are reported in `unmarked`.
std::vector<Example> read_examples(const std::string& doc, std::vector<std::string>& unmarked) {
  std::ifstream in(docs_dir() + "/" + doc);
  REQUIRE(in.good());
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  static const std::regex marker(R"(^<!-- example: (run|skip)\b(.*)-->\s*$)");
  static const std::regex fence(R"(^```(sh|bash|js|javascript)\s*$)");
  std::vector<Example> out;
  std::smatch m;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!std::regex_match(lines[i], m, fence)) {
      if (lines[i].rfind("```", 0) == 0 && lines[i].size() > 3) {  // another language: skip its body
        while (++i < lines.size() && lines[i].rfind("```", 0) != 0) {}
      }
      continue;
    }
    Example ex;
    ex.doc = doc;
    ex.line = static_cast<int>(i + 1);
    ex.lang = m[1] == "sh" || m[1] == "bash" ? "sh" : "js";
    // The nearest non-blank line above: the marker, if any.
    size_t j = i;
    while (j > 0 && lines[j - 1].find_first_not_of(" \t") == std::string::npos) --j;
    std::string mark_kind, attrs;
    if (j > 0 && std::regex_match(lines[j - 1], m, marker)) {
      mark_kind = m[1];
      attrs = m[2];
    }
    while (++i < lines.size() && lines[i].rfind("```", 0) != 0) ex.code += lines[i] + "\n";
    if (mark_kind.empty()) {
      if (ex.code.find("localhost:8080") != std::string::npos)
        unmarked.push_back(doc + ":" + std::to_string(ex.line));
      continue;
    }
    if (mark_kind == "skip") continue;
    for (const auto& a : split(attrs, ' ')) {
      if (a.rfind("server=", 0) == 0) ex.server = a.substr(7);
      if (a.rfind("saves=", 0) == 0) ex.saves = split(a.substr(6), ',');
    }
    out.push_back(std::move(ex));
  }
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// photo.png: a smooth 256x256 picture; mask.png: white (repaint) rectangle on black.
void write_inputs(const fs::path& dir) {
  Image photo{256, 256, 3, std::vector<uint8_t>(256 * 256 * 3)};
  Image mask{256, 256, 1, std::vector<uint8_t>(256 * 256)};
  for (int y = 0; y < 256; ++y)
    for (int x = 0; x < 256; ++x) {
      uint8_t* p = &photo.pixels[(y * 256 + x) * 3];
      p[0] = static_cast<uint8_t>(x);
      p[1] = static_cast<uint8_t>(y);
      p[2] = static_cast<uint8_t>((x + y) / 2);
      mask.pixels[y * 256 + x] = (x >= 64 && x < 192 && y >= 80 && y < 208) ? 255 : 0;
    }
  write_file(dir / "photo.png", encode_png(photo));
  write_file(dir / "mask.png", encode_png(mask));
}

// A kohya LoRA (rank 4) for the demo model's shapes: the self-attention projections of the UNet's
// second level (64 channels) and the first text-encoder layer's q_proj (64 wide). The fixture
// LoRAs are for tiny-sd15, whose 2x VAE makes 256x256 images far too slow for this test.
void write_demo_lora(const fs::path& path) {
  std::map<std::string, at::Tensor> t;
  auto add = [&](const std::string& key, int64_t in, int64_t out) {
    t[key + ".lora_down.weight"] = at::linspace(-0.1, 0.1, 4 * in).reshape({4, in}).to(at::kFloat);
    t[key + ".lora_up.weight"] = at::linspace(0.1, -0.1, out * 4).reshape({out, 4}).to(at::kFloat);
    t[key + ".alpha"] = at::full({}, 4.0, at::kFloat);
  };
  for (const char* proj : {"to_q", "to_k", "to_v"})
    add(std::string("lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_") + proj, 64, 64);
  add("lora_te_text_model_encoder_layers_0_self_attn_q_proj", 64, 64);
  save_safetensors(path.string(), t);
}

// The workers the examples talk to, started on first use.
class Servers {
 public:
  explicit Servers(const fs::path& root) : root_(root) {}
  WorkerProcess& get(const std::string& name) {
    auto it = running_.find(name);
    if (it != running_.end()) return *it->second;
    std::vector<std::string> args;
    if (name == "demo") {
      const fs::path emb = root_ / "embeddings";
      fs::create_directories(emb);
      // An A1111 embedding of two vectors for the demo model's text encoder (width 64).
      save_safetensors((emb / "my-style.safetensors").string(),
                       {{"emb_params", at::linspace(-0.05, 0.05, 2 * 64).reshape({2, 64}).to(at::kFloat)}});
      args = {"--model", "demo", "--embeddings-dir", emb.string()};
    } else if (name == "lora") {
      const fs::path loras = root_ / "loras";
      fs::create_directories(loras);
      write_demo_lora(loras / "papercut.safetensors");
      args = {"--model", "demo", "--model-alias", "v1-5", "--lora-dir", loras.string()};
    } else if (name == "auth") {
      args = {"--model", "demo", "--api-token", "change-me"};
    } else {
      FAIL("unknown server '" << name << "' in an example marker");
    }
    auto w = std::make_unique<WorkerProcess>(args);
    WorkerProcess& ref = *w;
    running_[name] = std::move(w);
    return ref;
  }

 private:
  fs::path root_;
  std::map<std::string, std::unique_ptr<WorkerProcess>> running_;
};

bool have_node() { return run_process({"/bin/sh", "-c", "command -v node"}).exit_code == 0; }

void run_doc(const std::string& doc) {
  std::vector<std::string> unmarked;
  const std::vector<Example> examples = read_examples(doc, unmarked);
  INFO("blocks that use localhost:8080 without an <!-- example: run|skip --> marker: " << unmarked.size());
  for (const auto& u : unmarked) UNSCOPED_INFO("unmarked: " << u);
  CHECK(unmarked.empty());
  REQUIRE(!examples.empty());

  TempDir tmp;
  const fs::path work = fs::path(tmp.path()) / "work";
  fs::create_directories(work);
  write_inputs(work);
  Servers servers(tmp.path());
  const bool node = have_node();
  if (!node) WARN("node is not installed: the JavaScript examples of " << doc << " are not run");

  int n = 0;
  for (const Example& ex : examples) {
    if (ex.lang == "js" && !node) continue;
    WorkerProcess& w = servers.get(ex.server);
    const std::string base = "http://127.0.0.1:" + std::to_string(w.port());
    const std::string code = replace_all(ex.code, "http://localhost:8080", base);
    const std::string file = (work / ("example-" + std::to_string(++n) + (ex.lang == "js" ? ".mjs" : ".sh"))).string();
    write_file(file, code);
    for (const auto& s : ex.saves) fs::remove(work / s);
    const std::string run = ex.lang == "js" ? "node \"$2\"" : "bash -euo pipefail \"$2\"";
    const ProcessResult r =
        run_process({"/bin/bash", "-c", "cd \"$1\" && exec timeout 60 " + run, "example", work.string(), file});
    INFO(doc << ":" << ex.line << " (" << ex.lang << ", server " << ex.server << ")\n" << code << "\n--- output:\n"
              << r.output() << "\n--- worker log (tail):\n"
              << w.log().substr(w.log().size() > 3000 ? w.log().size() - 3000 : 0));
    CHECK(r.exit_code == 0);
    for (const auto& s : ex.saves) {
      INFO("saved file " << s);
      std::ifstream in(work / s, std::ios::binary);
      REQUIRE(in.good());
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      REQUIRE(bytes.size() > 8);
      CHECK(bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
      const Image img = decode_image(bytes);
      CHECK(img.width > 0);
      CHECK(img.height > 0);
    }
  }
  std::cout << doc << ": " << n << " examples run\n";
}

}  // namespace

TEST_CASE("docs/EXAMPLES.md: the marked shell and JavaScript examples run and save PNGs", "[docs]") {
  run_doc("EXAMPLES.md");
}

TEST_CASE("docs/API.md: the marked shell examples run and save PNGs", "[docs]") { run_doc("API.md"); }
