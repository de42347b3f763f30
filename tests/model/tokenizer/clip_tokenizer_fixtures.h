// Helpers shared by the CLIP tokenizer tests (test_tokenizer*.cpp): fixture folders, loaded tokenizers, file reading/writing. Header-only.
#pragma once

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "model/tokenizer/clip_tokenizer.h"
#include "test_util.h"

namespace sdw::test::clip_fixtures {

inline const char* const kSd1Dir = "tokenizer/clip-vit-large-patch14";
inline const char* const kSd2Dir = "tokenizer/clip-vit-large-patch14-pad-excl";

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Tokenizers are loaded once per process (each load reads ~1.5 MB).
inline const ClipTokenizer& tokenizer(const std::string& fixture_dir) {
  static std::map<std::string, ClipTokenizer> loaded;
  auto it = loaded.find(fixture_dir);
  if (it == loaded.end()) {
    it = loaded.emplace(fixture_dir, ClipTokenizer::from_folder(sdw::test::fixture(fixture_dir))).first;
  }
  return it->second;
}

// Copies the fixture vocab/merges into a temporary folder (to add or corrupt files there).
inline void copy_fixture_files(const sdw::test::TempDir& dir, const std::string& from) {
  for (const char* f : {"vocab.json", "merges.txt"}) {
    write_file(dir.file(f), read_all(sdw::test::fixture(from + "/" + f)));
  }
}

}  // namespace sdw::test::clip_fixtures
