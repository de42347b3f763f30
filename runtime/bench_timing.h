// Timing helpers of `sd-worker bench` (cli_bench.cpp, bench_sd3.cpp): the median of timed runs
// after warm-ups with the device synchronised before each clock read, and the table's rows.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

namespace sdw {

double median(std::vector<double> v);
// Median wall time (ms) of `fn` over `runs` timed runs after `warmup` untimed ones.
double time_ms(const at::Device& device, int warmup, int runs, const std::function<void()>& fn);
// "| what | ms | note" (ms < 0: n/a).
void row(const char* what, double ms, const std::string& note = "");

}  // namespace sdw
