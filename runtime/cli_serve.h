// `sd-worker serve`: runs the worker behind the HTTP server (rbee's job protocol) until SIGINT or
// SIGTERM, then shuts down gracefully. Also reached as `sd-worker --worker-id ... --port ...`
// (how rbee-hive spawns a worker: flags without a sub-command).
#pragma once

namespace sdw {

// argv[0] is the program or sub-command name.
int run_serve(int argc, char** argv);

}  // namespace sdw
