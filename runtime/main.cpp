// sd-worker entry point: dispatches the sub-commands.
#include <cstring>
#include <iostream>
#include <string>

namespace {

void usage(std::ostream& os) {
  os << "usage: sd-worker <command> [options]\n"
        "commands:\n"
        "  version        print the version\n"
        "  --build-info   print 'release' or 'debug'\n";
}

}  // namespace

int main(int argc, char** argv) {
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
  std::cerr << "sd-worker: unknown command '" << cmd << "'\n";
  usage(std::cerr);
  return 2;
}
