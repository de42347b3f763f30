// libFuzzer target: the JSON settings file of `sd-worker serve --config FILE`
// (runtime/serve_options.cpp). Each input is written to one temporary file and parsed as
// `serve --config <file>`, with the settings' environment variables unset and the help and error
// text thrown away. parse_serve_options must return (nothing around it in `serve` catches), and
// accepted settings must be consistent and render as --print-config does.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "runtime/serve_options.h"

extern char** environ;

namespace {

std::string config_path;

// Discards what is written to it (std::cout and std::cerr during the runs).
class NullBuffer : public std::streambuf {
 protected:
  int overflow(int c) override { return c; }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

// Settings may come from the environment (SD_WORKER_<FLAG> and rbee's names): none may.
void unset_settings_environment() {
  static const char* const kRbeeNames[] = {"WORKER_ID",   "PORT",         "QUEEN_URL",      "CALLBACK_URL",
                                           "MODEL_PATH",  "SD_VERSION",   "CUDA_DEVICE",    "METAL_DEVICE",
                                           "USE_F16",     "USE_FLASH_ATTN", "HEARTBEAT_INTERVAL_SECS",
                                           "LLORCH_API_TOKEN"};
  for (const char* name : kRbeeNames) unsetenv(name);
  std::vector<std::string> ours;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    if (entry.rfind("SD_WORKER_", 0) == 0) ours.push_back(entry.substr(0, entry.find('=')));
  }
  for (const std::string& name : ours) unsetenv(name.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  unset_settings_environment();
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/sdw_fuzz_config_XXXXXX";
  const int fd = mkstemp(pattern.data());
  if (fd < 0) {
    std::perror("fuzz_serve_config: mkstemp");
    std::abort();
  }
  close(fd);
  config_path = pattern;
  std::atexit([] { std::remove(config_path.c_str()); });
  static NullBuffer null_buffer;
  std::cout.rdbuf(&null_buffer);
  std::cerr.rdbuf(&null_buffer);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FILE* f = std::fopen(config_path.c_str(), "wb");
  SDW_FUZZ_CHECK(f != nullptr);
  SDW_FUZZ_CHECK(std::fwrite(data, 1, size, f) == size);
  std::fclose(f);

  std::string program = "serve", flag = "--config", path = config_path;
  char* argv[] = {program.data(), flag.data(), path.data(), nullptr};
  sdw::ServeOptions options;
  const sdw::ServeParse parsed = sdw::parse_serve_options(3, argv, sdw::BinaryVariant::plain, options);
  if (!parsed.run) {
    SDW_FUZZ_CHECK(parsed.exit_code == 0 || parsed.exit_code == 2);
    return 0;
  }
  SDW_FUZZ_CHECK(options.config_file == config_path);
  SDW_FUZZ_CHECK(options.min_side <= options.max_side);
  SDW_FUZZ_CHECK(!options.devices.empty());
  SDW_FUZZ_CHECK(!sdw::to_json(options).dump(2).empty());  // --print-config
  return 0;
}
