// Timing helpers of `sd-worker bench` (cli_bench.cpp, bench_sd3.cpp): the median of timed runs
// after warm-ups with the device synchronised before each clock read, a stage's peak memory, the
// table's header and rows, and the request every bench times.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "model/pipeline/request.h"

namespace sdw {

double median(std::vector<double> v);
// Median wall time (ms) of `fn` over `runs` timed runs after `warmup` untimed ones.
double time_ms(const at::Device& device, int warmup, int runs, const std::function<void()>& fn);
// "| what | ms | note" (ms < 0: n/a).
void row(const char* what, double ms, const std::string& note = "");
// The table's header ("| stage | median ms | note") and its rule.
void table_header();
// Peak memory (GiB) on `device` while `fn` runs: the reset leaves the resident weights counted, so
// a stage's peak is weights + that stage's working memory.
double stage_peak_gib(const at::Device& device, const std::function<void()>& fn);
// The benches' txt2img request: a fixed prompt and negative, seed 1, width x height, `steps`,
// `guidance`, `batch` images; and limits that let any bench size through.
GenerationRequest bench_request(int width, int height, int steps, double guidance, int batch);
RequestLimits bench_limits();

}  // namespace sdw
