// The installed layout: `cmake --install` of this build tree into a temporary prefix gives the
// binary and its install-name links, the data files, the web UI (when built), the example
// settings and a systemd unit whose ExecStart is that prefix's binary and which passes
// `systemd-analyze verify`; every file is in install_manifest.txt; and the installed binary,
// run from elsewhere without SDW_DATA_DIR, finds its data next to itself: `generate` writes an
// image and `serve` answers, logging the prefix's share/sd-worker as its data folder. Then the CPU
// container recipe's runtime stage (config/Containerfile) is checked against the installed tree:
// it copies the prefix whole and its packages provide every library the tree loads
// (scripts/check_container_libs.sh, which also fails when a package is dropped from the list).
#include <catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "e2e/http_harness.h"
#include "model/image/image_io.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace sdw;
using namespace sdw::test;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("cmake --install to any prefix gives a tree that runs from there", "[install]") {
  TempDir tmp;
  const fs::path prefix = fs::path(tmp.path()) / "opt" / "sdw";
  const ProcessResult inst = run_process({SDW_CMAKE_COMMAND, "--install", SDW_BUILD_DIR, "--prefix", prefix.string()}, {}, {"DESTDIR"});
  INFO(inst.output());
  REQUIRE(inst.exit_code == 0);

  // The files.
  CHECK(fs::is_regular_file(prefix / "bin/sd-worker"));
  for (const char* link : {"sd-worker-rbee", "sd-worker-cpu", "sd-worker-cuda", "sd-worker-metal"}) {
    INFO(link);
    CHECK(fs::is_symlink(prefix / "bin" / link));
    CHECK(fs::read_symlink(prefix / "bin" / link) == "sd-worker");
  }
  CHECK(fs::is_regular_file(prefix / "share/sd-worker/tokenizer/clip-vit-large-patch14/vocab.json"));
  CHECK(fs::is_regular_file(prefix / "share/doc/sd-worker/worker.json"));
  CHECK(fs::is_regular_file(prefix / "share/doc/sd-worker/sd-worker.env"));
  const bool ui_built = fs::is_regular_file(fs::path(SDW_SOURCE_DIR) / "ui/dist/index.html");
  CHECK(fs::is_regular_file(prefix / "share/sd-worker/ui/index.html") == ui_built);
  const fs::path unit = prefix / "lib/systemd/system/sd-worker.service";
  REQUIRE(fs::is_regular_file(unit));
  CHECK_THAT(read_text(unit), Catch::Contains("ExecStart=" + (prefix / "bin/sd-worker").string() + " serve"));
  const ProcessResult verify = run_process({"/bin/sh", "-c", "systemd-analyze verify '" + unit.string() + "'"});
  INFO(verify.output());
  CHECK(verify.exit_code == 0);

  // install_manifest.txt lists every installed file and link (the container build relies on it).
  std::set<std::string> manifest;
  {
    std::ifstream in(fs::path(SDW_BUILD_DIR) / "install_manifest.txt");
    for (std::string line; std::getline(in, line);) manifest.insert(line);
  }
  size_t installed = 0;
  for (auto it = fs::recursive_directory_iterator(prefix); it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_directory() && !it->is_symlink()) continue;
    ++installed;
    INFO(it->path());
    CHECK(manifest.count(it->path().string()) == 1);
  }
  CHECK(installed == manifest.size());

  // Run from elsewhere, without SDW_DATA_DIR: the data next to the binary.
  const std::string out = tmp.file("installed.png");
  const ProcessResult gen = run_process({(prefix / "bin/sd-worker").string(), "generate", "--model", "demo", "--prompt", "a red fox",
                                         "--steps", "1", "--width", "64", "--height", "64", "--seed", "1", "--output", out},
                                        {}, {"SDW_DATA_DIR"});
  INFO(gen.output());
  REQUIRE(gen.exit_code == 0);
  CHECK(load_image(out).width == 64);
  WorkerProcess w({"--model", "demo", "--min-side", "64"}, {}, true, WorkerProcess::WaitFor::ready,
                  (prefix / "bin/sd-worker-cpu").string());
  CHECK(http_get(w.port(), "/health").status == 200);
  CHECK_THAT(w.log(), Catch::Contains("data files (CLIP vocabularies, configs) from " + (prefix / "share/sd-worker").string()));
  if (ui_built) CHECK_THAT(w.log(), Catch::Contains("web UI at") && Catch::Contains((prefix / "share/sd-worker/ui").string()));

  const std::string check = std::string(SDW_SOURCE_DIR) + "/scripts/check_container_libs.sh";
  const ProcessResult libs = run_process({"/bin/bash", check, std::string(SDW_SOURCE_DIR) + "/config/Containerfile", prefix.string()});
  INFO(libs.output());
  CHECK(libs.exit_code == 0);
  CHECK_THAT(libs.output(), Catch::Contains("provides every library"));
}
