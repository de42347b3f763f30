// `sd-worker bench --arch sd3`: SD3 Medium's full-size architecture (MMDiT, 16-channel VAE,
// CLIP-L, CLIP-G and, unless --no-t5, T5-XXL) with seeded random weights (data/configs/sd3),
// timed stage by stage through the ordinary pipeline stages, with the peak memory of each.
#pragma once

#include <string>

namespace sdw {

struct Sd3BenchArgs {
  std::string device = "cpu";
  std::string dtype = "fp32";
  int width = 0, height = 0;  // 0: the architecture's (1024)
  int steps = 4;
  int batch = 1;
  double guidance = 7.0;
  int warmup = 1;
  int runs = 3;
  bool no_t5 = false;
  int max_sequence_length = 0;  // 0: 256
  std::string t5_device;        // "": --device
  bool end_to_end = true;       // false: no end-to-end row (on a CPU it repeats every stage)
};

// Prints the table; returns the exit code. Throws like the other bench paths (caught there).
int run_sd3_bench(const Sd3BenchArgs& args);

}  // namespace sdw
