// `sd-worker node`: serve some pipeline stages of one model on one device to front workers
// (`serve --stage STAGE=HOST:PORT`) through CAF's middleman (docs/distributed.md).
#pragma once

namespace sdw {

// argv[0] is the sub-command name. Prints "sd-worker node: listening on HOST:PORT (...)" once it
// serves, and runs until SIGINT/SIGTERM. Returns the exit code.
int run_node(int argc, char** argv);

}  // namespace sdw
