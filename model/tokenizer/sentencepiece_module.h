// Debian's libsentencepiece, reached through the sdw_sentencepiece module (sentencepiece/
// sentencepiece_shim.h) loaded with dlopen(RTLD_LOCAL | RTLD_DEEPBIND).
//
// Why not link libsentencepiece directly: it carries its own protobuf-lite and exports those
// symbols, and libtorch loads the system libprotobuf (3.21). Linked into one program, libprotobuf's
// start-up code binds to sentencepiece's copies and crashes before main (sentencepiece first), or
// sentencepiece's generated code fails libprotobuf's version check (libprotobuf first). Loaded
// locally with deep binding, sentencepiece keeps its own protobuf and libtorch keeps the system one.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace sdw {

// One loaded spiece.model. Thread-safe for encoding (SentencePieceProcessor's Encode is const).
class SentencePieceModel {
 public:
  struct Piece {
    int id = 0;
    std::string text;  // the piece as SentencePiece writes it ('▁' for spaces; unknown text as is)
  };
  // Throws TokenizerError when the module or the model cannot be loaded.
  static std::shared_ptr<const SentencePieceModel> load(const std::string& path);
  ~SentencePieceModel();
  SentencePieceModel(const SentencePieceModel&) = delete;
  SentencePieceModel& operator=(const SentencePieceModel&) = delete;

  std::vector<Piece> encode(const std::string& text) const;
  int piece_to_id(const std::string& piece) const;
  int piece_size() const;
  int unk_id() const;

 private:
  SentencePieceModel() = default;
  void* processor_ = nullptr;
};

// Where the module is looked for: $SDW_SENTENCEPIECE_MODULE, <binary>/../lib/sd-worker/, the build
// tree, the configured install prefix.
std::vector<std::string> sentencepiece_module_candidates();

}  // namespace sdw
