// Beta schedules and alphas_cumprod as diffusers builds them in every scheduler's __init__
// (linear, scaled_linear, squaredcos_cap_v2 via betas_for_alpha_bar, sigmoid, exp, trained_betas)
// and rescale_zero_terminal_snr (schedulers/scheduling_ddim.py, v0.30.3).
#pragma once

#include <ATen/ATen.h>

#include "model/schedulers/scheduler_config.h"

namespace sdw::sched {

// [T] float32 betas of the config (torch float32 linspace, as diffusers).
at::Tensor make_betas(const SchedulerConfig& config);

// Rescales betas to zero terminal SNR (arXiv:2305.08891, Algorithm 1). [T] -> [T] float32.
at::Tensor rescale_zero_terminal_snr(const at::Tensor& betas);

// cumprod(1 - betas) [T] float32, with rescale_betas_zero_snr applied when configured. The
// sigma-based schedulers (Euler, Euler a, DPM, UniPC) then set the last entry to 2**-24 so that
// the first sigma is finite: pass `clamp_last` for them.
at::Tensor make_alphas_cumprod(const SchedulerConfig& config, bool clamp_last);

}  // namespace sdw::sched
