// Asset folders on real files in a temporary directory: names with and without the extension,
// sub-folders, and every path trick refused: absolute paths, "..", a symlink out of the folder,
// a pickle file; the listing leaves out what points outside.
#include <catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "model/catalog/asset_folders.h"
#include "test_util.h"

using namespace sdw;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

AssetError::Kind failure(const AssetFolders& folders, const std::string& name) {
  try {
    folders.resolve(name);
  } catch (const AssetError& e) {
    return e.kind();
  }
  FAIL("resolved " << name);
  return AssetError::Kind::not_found;
}

}  // namespace

TEST_CASE("asset folders resolve names inside the folders and refuse path tricks", "[catalog][assets]") {
  const fs::path root = fs::temp_directory_path() / ("sdw_assets_" + std::to_string(::getpid()));
  fs::remove_all(root);
  write(root / "loras/add_detail.safetensors", "12345");
  write(root / "loras/styles/ink.safetensors", "ab");
  write(root / "loras/epi_v2.1.safetensors", "x");
  write(root / "loras/old.ckpt", "pickle");
  write(root / "secret/outside.safetensors", "secret");
  write(root / "more/add_detail.safetensors", "other");
  write(root / "more/extra.safetensors", "e");
  fs::create_symlink(root / "secret/outside.safetensors", root / "loras/escape.safetensors");
  fs::create_symlink(root / "loras/add_detail.safetensors", root / "loras/alias.safetensors");
  const AssetFolders folders({root / "loras", root / "more"}, {".safetensors"}, "LoRA");

  SECTION("names, with or without the extension, in sub-folders, first folder first") {
    const AssetFile a = folders.resolve("add_detail");
    CHECK(a.name == "add_detail");
    CHECK(a.path == fs::canonical(root / "loras/add_detail.safetensors"));
    CHECK(a.size == 5);
    CHECK(folders.resolve("add_detail.safetensors").path == a.path);
    CHECK(folders.resolve("styles/ink").name == "styles/ink");
    CHECK(folders.resolve("epi_v2.1").size == 1);
    CHECK(folders.resolve("extra").path == fs::canonical(root / "more/extra.safetensors"));
    CHECK(folders.resolve("alias").path == a.path);  // a symlink inside the folder is fine
  }
  SECTION("path tricks") {
    CHECK(failure(folders, (root / "loras/add_detail.safetensors").string()) == AssetError::Kind::bad_name);
    CHECK(failure(folders, "../secret/outside") == AssetError::Kind::bad_name);
    CHECK(failure(folders, "styles/../../secret/outside") == AssetError::Kind::bad_name);
    CHECK(failure(folders, "escape") == AssetError::Kind::forbidden);
    CHECK(failure(folders, "old.ckpt") == AssetError::Kind::bad_name);
    CHECK(failure(folders, "old") == AssetError::Kind::not_found);
    CHECK(failure(folders, "") == AssetError::Kind::bad_name);
    CHECK(failure(folders, std::string("a\0b", 3)) == AssetError::Kind::bad_name);
    CHECK(failure(folders, "..\\secret") == AssetError::Kind::bad_name);
    CHECK(failure(AssetFolders({}, {".safetensors"}, "LoRA"), "add_detail") == AssetError::Kind::not_found);
  }
  SECTION("the listing") {
    std::vector<std::string> names;
    for (const auto& f : folders.list()) names.push_back(f.name);
    CHECK(names == std::vector<std::string>{"add_detail", "alias", "epi_v2.1", "extra", "styles/ink"});
  }
  CHECK_THROWS_AS(AssetFolders({root / "missing"}, {".safetensors"}, "LoRA"), std::invalid_argument);
  fs::remove_all(root);
}
