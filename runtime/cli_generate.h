// `sd-worker generate`: one image (or several) from the command line, without a server.
#pragma once

namespace sdw {

int run_generate(int argc, char** argv);

}  // namespace sdw
