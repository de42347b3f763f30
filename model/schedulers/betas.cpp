// Beta schedules and alphas_cumprod (port of the __init__ code shared by the diffusers schedulers,
// v0.30.3): every tensor op mirrors the Python one so that float32 results are bit-identical.
#include "model/schedulers/betas.h"

#include <cmath>
#include <vector>

#include "model/schedulers/scheduler.h"

namespace sdw::sched {
namespace {

// diffusers' betas_for_alpha_bar: Python float math, then torch.tensor(betas, dtype=float32).
at::Tensor betas_for_alpha_bar(int64_t num_diffusion_timesteps, bool exp_transform, double max_beta = 0.999) {
  auto alpha_bar = [exp_transform](double t) {
    if (exp_transform) return std::exp(t * -12.0);
    return std::pow(std::cos((t + 0.008) / 1.008 * M_PI / 2), 2.0);
  };
  std::vector<float> betas(static_cast<size_t>(num_diffusion_timesteps));
  for (int64_t i = 0; i < num_diffusion_timesteps; ++i) {
    const double t1 = static_cast<double>(i) / static_cast<double>(num_diffusion_timesteps);
    const double t2 = static_cast<double>(i + 1) / static_cast<double>(num_diffusion_timesteps);
    betas[static_cast<size_t>(i)] = static_cast<float>(std::min(1 - alpha_bar(t2) / alpha_bar(t1), max_beta));
  }
  return at::tensor(betas, at::TensorOptions().dtype(at::kFloat));  // [T]
}

}  // namespace

at::Tensor make_betas(const SchedulerConfig& c) {
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  const int64_t T = c.num_train_timesteps;
  if (c.trained_betas) {
    std::vector<float> b(c.trained_betas->begin(), c.trained_betas->end());
    return at::tensor(b, f32);  // [T]
  }
  if (c.beta_schedule == "linear") return at::linspace(c.beta_start, c.beta_end, T, f32);
  if (c.beta_schedule == "scaled_linear") {
    // torch.linspace(beta_start**0.5, beta_end**0.5, T, dtype=float32) ** 2
    return at::linspace(std::pow(c.beta_start, 0.5), std::pow(c.beta_end, 0.5), T, f32).pow(2);
  }
  if (c.beta_schedule == "squaredcos_cap_v2") return betas_for_alpha_bar(T, false);
  if (c.beta_schedule == "exp") return betas_for_alpha_bar(T, true);
  if (c.beta_schedule == "sigmoid") {
    // DDPM (GeoDiff): sigmoid(linspace(-6, 6, T)) * (beta_end - beta_start) + beta_start
    at::Tensor betas = at::linspace(-6, 6, T, f32);
    return at::sigmoid(betas) * (c.beta_end - c.beta_start) + c.beta_start;
  }
  throw SchedulerError(c.class_name + ": beta_schedule '" + c.beta_schedule + "' is not implemented");
}

at::Tensor rescale_zero_terminal_snr(const at::Tensor& betas) {
  // Convert betas to alphas_bar_sqrt
  at::Tensor alphas = 1.0 - betas;
  at::Tensor alphas_cumprod = at::cumprod(alphas, 0);
  at::Tensor alphas_bar_sqrt = alphas_cumprod.sqrt();
  // Store old values.
  at::Tensor a0 = alphas_bar_sqrt[0].clone();
  at::Tensor aT = alphas_bar_sqrt[-1].clone();
  // Shift so the last timestep is zero, scale so the first timestep is back to the old value.
  alphas_bar_sqrt -= aT;
  alphas_bar_sqrt *= a0 / (a0 - aT);
  // Convert alphas_bar_sqrt to betas
  at::Tensor alphas_bar = alphas_bar_sqrt.pow(2);
  at::Tensor ratios = alphas_bar.slice(0, 1) / alphas_bar.slice(0, 0, -1);  // revert cumprod
  alphas = at::cat({alphas_bar.slice(0, 0, 1), ratios});
  return 1 - alphas;  // [T]
}

at::Tensor make_alphas_cumprod(const SchedulerConfig& c, bool clamp_last) {
  at::Tensor betas = make_betas(c);
  if (c.rescale_betas_zero_snr) betas = rescale_zero_terminal_snr(betas);
  at::Tensor alphas = 1.0 - betas;
  at::Tensor alphas_cumprod = at::cumprod(alphas, 0);  // [T] float32
  if (c.rescale_betas_zero_snr && clamp_last) {
    // Close to 0 without being 0 so the first sigma is not inf (FP16's smallest subnormal).
    alphas_cumprod[-1] = std::pow(2.0, -24);
  }
  return alphas_cumprod;
}

}  // namespace sdw::sched
