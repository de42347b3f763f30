// Loading the sdw_sentencepiece module (see sentencepiece_module.h).
#include "model/tokenizer/sentencepiece_module.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "model/tokenizer/clip_tokenizer.h"  // TokenizerError
#include "model/tokenizer/sentencepiece/sentencepiece_shim.h"

namespace sdw {
namespace {

struct Module {
  decltype(&sdw_spm_load) load = nullptr;
  decltype(&sdw_spm_free) free = nullptr;
  decltype(&sdw_spm_encode) encode = nullptr;
  decltype(&sdw_spm_piece_to_id) piece_to_id = nullptr;
  decltype(&sdw_spm_piece_size) piece_size = nullptr;
  decltype(&sdw_spm_unk_id) unk_id = nullptr;
};

template <typename F>
void resolve(void* handle, const char* name, F& out) {
  out = reinterpret_cast<F>(dlsym(handle, name));
  if (!out) throw TokenizerError(std::string("the sentencepiece module lacks ") + name);
}

// Loaded once per process and kept (never dlclose'd: models may outlive any owner).
const Module& module() {
  static std::once_flag once;
  static Module m;
  static std::string failure;
  std::call_once(once, [] {
    std::string tried;
    for (const std::string& path : sentencepiece_module_candidates()) {
      if (!std::filesystem::is_regular_file(path)) {
        tried += "\n  " + path + " (absent)";
        continue;
      }
      void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
      if (!handle) {
        const char* e = dlerror();
        tried += "\n  " + path + " (" + (e ? e : "dlopen failed") + ")";
        continue;
      }
      try {
        resolve(handle, "sdw_spm_load", m.load);
        resolve(handle, "sdw_spm_free", m.free);
        resolve(handle, "sdw_spm_encode", m.encode);
        resolve(handle, "sdw_spm_piece_to_id", m.piece_to_id);
        resolve(handle, "sdw_spm_piece_size", m.piece_size);
        resolve(handle, "sdw_spm_unk_id", m.unk_id);
        return;
      } catch (const TokenizerError& e) {
        tried += "\n  " + path + " (" + e.what() + ")";
        m = Module{};
      }
    }
    failure = "cannot load the sentencepiece module (libsdw_sentencepiece.so, needs Debian's libsentencepiece0); tried:" + tried;
  });
  if (!m.load) throw TokenizerError(failure);
  return m;
}

void collect(void* context, int id, const char* piece, size_t size) {
  static_cast<std::vector<SentencePieceModel::Piece>*>(context)->push_back({id, std::string(piece, size)});
}

}  // namespace

std::vector<std::string> sentencepiece_module_candidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("SDW_SENTENCEPIECE_MODULE")) out.push_back(env);
  // Installed next to the running binary: <prefix>/bin/sd-worker -> <prefix>/lib/sd-worker/.
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) out.push_back((exe.parent_path() / ".." / "lib" / "sd-worker" / "libsdw_sentencepiece.so").lexically_normal().string());
#ifdef SDW_SPM_MODULE_BUILD_PATH
  out.push_back(SDW_SPM_MODULE_BUILD_PATH);
#endif
#ifdef SDW_SPM_MODULE_INSTALL_PATH
  out.push_back(SDW_SPM_MODULE_INSTALL_PATH);
#endif
  return out;
}

std::shared_ptr<const SentencePieceModel> SentencePieceModel::load(const std::string& path) {
  const Module& m = module();
  char error[512] = {0};
  void* processor = m.load(path.c_str(), error, sizeof error);
  if (!processor) throw TokenizerError("cannot load '" + path + "': " + error);
  std::shared_ptr<SentencePieceModel> model(new SentencePieceModel());
  model->processor_ = processor;
  return model;
}

SentencePieceModel::~SentencePieceModel() {
  if (processor_) module().free(processor_);
}

std::vector<SentencePieceModel::Piece> SentencePieceModel::encode(const std::string& text) const {
  std::vector<Piece> pieces;
  char error[512] = {0};
  if (module().encode(processor_, text.data(), text.size(), collect, &pieces, error, sizeof error) != 0)
    throw TokenizerError(std::string("SentencePiece: ") + error);
  return pieces;
}

int SentencePieceModel::piece_to_id(const std::string& piece) const {
  return module().piece_to_id(processor_, piece.data(), piece.size());
}

int SentencePieceModel::piece_size() const { return module().piece_size(processor_); }

int SentencePieceModel::unk_id() const { return module().unk_id(processor_); }

}  // namespace sdw
