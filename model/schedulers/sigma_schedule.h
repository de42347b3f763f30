// Sigma helpers of the sigma-based diffusers schedulers (v0.30.3): training sigmas from
// alphas_cumprod, numpy.interp, Karras et al. (2022) sigmas and the log-sigma -> timestep map
// (EulerDiscreteScheduler._sigma_to_t), all in numpy's float64 with the float32 inputs numpy sees.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace sdw::sched {

// np.array(((1 - alphas_cumprod) / alphas_cumprod) ** 0.5): float32 torch ops. [T]
std::vector<float> train_sigmas(const at::Tensor& alphas_cumprod);

// np.log of a float32 array (float32 result).
std::vector<float> log_f32(const std::vector<float>& v);

// numpy.interp(x, xp, fp) for increasing xp (float64).
std::vector<double> np_interp(const std::vector<double>& x, const std::vector<double>& xp, const std::vector<double>& fp);
// numpy.interp(x, np.arange(len(fp)), fp) with float32 fp: sigma(t) for fractional timesteps.
std::vector<double> interp_sigmas(const std::vector<double>& timesteps, const std::vector<float>& sigmas);

// _convert_to_karras: (max^(1/rho) + ramp * (min^(1/rho) - max^(1/rho)))^rho with rho = 7,
// ramp = np.linspace(0, 1, n). Descending from sigma_max to sigma_min.
std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int64_t num_inference_steps);

// _sigma_to_t: fractional timestep whose log sigma interpolates `log_sigmas` (increasing in t).
double sigma_to_t(double sigma, const std::vector<float>& log_sigmas);

// float32 1-D tensor of a float64 vector (numpy's .astype(np.float32)).
at::Tensor to_f32_tensor(const std::vector<double>& v);
at::Tensor to_f32_tensor(const std::vector<float>& v);

}  // namespace sdw::sched
