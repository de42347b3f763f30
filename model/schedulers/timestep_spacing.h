// Timestep spacing ("linspace", "leading", "trailing" of arXiv:2305.08891 Table 2, plus
// steps_offset) as the diffusers schedulers compute it with numpy (v0.30.3), and the numpy
// primitives they use (linspace, arange, round half to even) reproduced in float64.
#pragma once

#include <cstdint>
#include <vector>

#include "model/schedulers/scheduler_config.h"

namespace sdw::sched {

// numpy.linspace(start, stop, num, endpoint) in float64: i * step + start, last = stop.
std::vector<double> np_linspace(double start, double stop, int64_t num, bool endpoint = true);
// numpy.arange(start, stop, step) for a float step: start + i * ((start + step) - start).
std::vector<double> np_arange(double start, double stop, double step);
// numpy.round / ndarray.round: round half to even.
double np_round(double v);

// DDIM / DDPM: int64 timesteps, descending.
std::vector<int64_t> spaced_timesteps_int(const SchedulerConfig& c, int64_t num_inference_steps);
// Euler / Euler a / Heun: float32 timesteps, descending.
std::vector<float> spaced_timesteps_float(const SchedulerConfig& c, int64_t num_inference_steps);
// DPM-Solver / UniPC: `num_inference_steps + 1` points with the last (t = 0 side) dropped, int64,
// descending; `last_timestep` is num_train_timesteps less DPM's lambda_min_clipped cut.
std::vector<int64_t> spaced_timesteps_multistep(const SchedulerConfig& c, int64_t num_inference_steps,
                                                int64_t last_timestep);

// Throws SchedulerError unless 1 <= num_inference_steps <= num_train_timesteps.
void check_num_inference_steps(const SchedulerConfig& c, int64_t num_inference_steps);

}  // namespace sdw::sched
