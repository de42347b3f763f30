// `sd-worker bench`: times the stages of a full-size architecture with random weights and prints
// a table (median ms per stage, steps/s, images/s, peak memory).
#pragma once

namespace sdw {

int run_bench(int argc, char** argv);

}  // namespace sdw
