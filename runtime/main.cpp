// sd-worker entry point: dispatches the sub-commands.
#include <cstring>
#include <iostream>
#include <string>

#include "model/nn/cpu_allocator.h"
#include "runtime/blas_check.h"
#include "runtime/cli_bench.h"
#include "runtime/cli_generate.h"
#ifdef SDW_HAVE_SERVE
#include "runtime/cli_node.h"
#include "runtime/cli_serve.h"
#endif

namespace {

void usage(std::ostream& os) {
  os << "usage: sd-worker <command> [options]\n"
        "commands:\n"
        "  generate       generate images from the command line (see `sd-worker generate --help`)\n"
        "  bench          time the stages of a full-size architecture (random weights)\n"
        "  serve          serve the worker over HTTP (see `sd-worker serve --help`)\n"
        "  node           serve pipeline stages to front workers (see `sd-worker node --help`)\n"
        "  version        print the version\n"
        "  --build-info   print 'release' or 'debug'\n"
        "  --<flag> ...   serve (how rbee-hive spawns a worker; see `sd-worker serve --help`)\n"
        "Installed as sd-worker-rbee, sd-worker-cpu, sd-worker-cuda or sd-worker-metal, the binary serves\n"
        "with that name's default device.\n";
}

}  // namespace

int main(int argc, char** argv) {
  sdw::nn::configure_cpu_allocator();  // before any tensor: glibc's mmap threshold fixed (cpu_allocator.h)
#ifdef SDW_HAVE_SERVE
  // Installed as sd-worker-rbee|cpu|cuda|metal (links to this binary): a worker that serves, with
  // the name's default device, whether started with flags only or with nothing at all.
  const sdw::BinaryVariant variant = sdw::variant_from_program_name(argc > 0 ? argv[0] : "");
  if (variant != sdw::BinaryVariant::plain &&
      (argc < 2 || (std::strncmp(argv[1], "--", 2) == 0 && std::strcmp(argv[1], "--build-info") != 0 &&
                    std::strcmp(argv[1], "--version") != 0))) {
    sdw::warn_if_reference_blas();
    return sdw::run_serve(argc, argv, variant);
  }
#endif
  if (argc < 2) {
    usage(std::cerr);
    return 2;
  }
  const std::string cmd = argv[1];
  if (cmd == "--build-info") {
#ifdef NDEBUG
    std::cout << "release\n";
#else
    std::cout << "debug\n";
#endif
    return 0;
  }
  if (cmd == "version" || cmd == "--version") {
    std::cout << "sd-worker 0.1.0\n";
    return 0;
  }
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    usage(std::cout);
    return 0;
  }
  if (cmd == "bench") {
    sdw::warn_if_reference_blas();
    return sdw::run_bench(argc - 1, argv + 1);
  }
  if (cmd == "generate") {
    sdw::warn_if_reference_blas();
    return sdw::run_generate(argc - 1, argv + 1);
  }
#ifdef SDW_HAVE_SERVE
  if (cmd == "node") {
    sdw::warn_if_reference_blas();
    return sdw::run_node(argc - 1, argv + 1);
  }
  if (cmd == "serve") {
    sdw::warn_if_reference_blas();
    return sdw::run_serve(argc - 1, argv + 1, variant);
  }
  if (cmd.rfind("--", 0) == 0) {  // rbee-hive's spawn: `<binary> --worker-id .. --port ..` (serve)
    sdw::warn_if_reference_blas();
    return sdw::run_serve(argc, argv, variant);
  }
#endif
  std::cerr << "sd-worker: unknown command '" << cmd << "'\n";
  usage(std::cerr);
  return 2;
}
