// `sd-worker serve`: runs the worker behind the HTTP server (rbee's job protocol) until SIGINT or
// SIGTERM, then shuts down gracefully. Also reached as `sd-worker --worker-id ... --port ...`
// (how rbee-hive spawns a worker: flags without a sub-command), and under the install names
// sd-worker-rbee|cpu|cuda|metal with flags or nothing at all.
#pragma once

#include "runtime/serve_options.h"

namespace sdw {

// argv[0] is the program or sub-command name; `variant` (from the install name) picks the
// default device.
int run_serve(int argc, char** argv, BinaryVariant variant = BinaryVariant::plain);

}  // namespace sdw
