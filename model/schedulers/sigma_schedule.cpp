// Sigma helpers (numpy code of EulerDiscreteScheduler / DPMSolverMultistepScheduler set_timesteps,
// diffusers v0.30.3) in C++.
#include "model/schedulers/sigma_schedule.h"

#include <algorithm>
#include <cmath>

namespace sdw::sched {

std::vector<float> train_sigmas(const at::Tensor& alphas_cumprod) {
  at::Tensor s = ((1 - alphas_cumprod) / alphas_cumprod).pow(0.5).contiguous();  // [T] float32
  const float* p = s.data_ptr<float>();
  return std::vector<float>(p, p + s.numel());
}

std::vector<float> log_f32(const std::vector<float>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(std::log(static_cast<double>(v[i])));
  return out;
}

std::vector<double> np_interp(const std::vector<double>& x, const std::vector<double>& xp,
                              const std::vector<double>& fp) {
  std::vector<double> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    if (std::isnan(v)) {
      out[i] = v;
    } else if (v < xp.front()) {
      out[i] = fp.front();
    } else if (v >= xp.back()) {
      out[i] = fp.back();
    } else {
      // j with xp[j] <= v < xp[j + 1]
      const size_t j = static_cast<size_t>(std::upper_bound(xp.begin(), xp.end(), v) - xp.begin()) - 1;
      if (xp[j] == v) {
        out[i] = fp[j];
      } else {
        const double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
        out[i] = slope * (v - xp[j]) + fp[j];
        if (std::isnan(out[i])) out[i] = slope * (v - xp[j + 1]) + fp[j + 1];
      }
    }
  }
  return out;
}

std::vector<double> interp_sigmas(const std::vector<double>& timesteps, const std::vector<float>& sigmas) {
  std::vector<double> xp(sigmas.size());
  std::vector<double> fp(sigmas.size());
  for (size_t i = 0; i < sigmas.size(); ++i) {
    xp[i] = static_cast<double>(i);
    fp[i] = static_cast<double>(sigmas[i]);
  }
  return np_interp(timesteps, xp, fp);
}

std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int64_t n) {
  const double rho = 7.0;  // the value used in the paper
  const double min_inv_rho = std::pow(sigma_min, 1 / rho);
  const double max_inv_rho = std::pow(sigma_max, 1 / rho);
  // ramp = np.linspace(0, 1, n)
  const int64_t div = n - 1;
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double ramp = div > 0 ? static_cast<double>(i) * (1.0 / static_cast<double>(div)) : 0.0;
    if (div > 0 && i == n - 1) ramp = 1.0;
    out[static_cast<size_t>(i)] = std::pow(max_inv_rho + ramp * (min_inv_rho - max_inv_rho), rho);
  }
  return out;
}

double sigma_to_t(double sigma, const std::vector<float>& log_sigmas) {
  // numpy 1.x value-based casting: the float64 scalar log sigma meets float32 arrays, so `dists`
  // and the interpolation weight are float32; only the final mix with the indices is float64.
  const float log_sigma = static_cast<float>(std::log(std::max(sigma, 1e-10)));
  // low_idx: the last index with log_sigmas[i] <= log_sigma (0 when none), at most n - 2
  const int64_t n = static_cast<int64_t>(log_sigmas.size());
  int64_t low_idx = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (log_sigma - log_sigmas[static_cast<size_t>(i)] >= 0.0f) low_idx = i;
  }
  low_idx = std::min(low_idx, n - 2);
  const int64_t high_idx = low_idx + 1;
  const float low = log_sigmas[static_cast<size_t>(low_idx)];
  const float high = log_sigmas[static_cast<size_t>(high_idx)];
  // interpolate sigmas
  float w = (low - log_sigma) / (low - high);
  w = std::clamp(w, 0.0f, 1.0f);
  // transform interpolation to time range
  return static_cast<double>(1.0f - w) * static_cast<double>(low_idx) + static_cast<double>(w) * static_cast<double>(high_idx);
}

at::Tensor to_f32_tensor(const std::vector<double>& v) {
  std::vector<float> f(v.begin(), v.end());
  return to_f32_tensor(f);
}

at::Tensor to_f32_tensor(const std::vector<float>& v) {
  return at::tensor(v, at::TensorOptions().dtype(at::kFloat));
}

}  // namespace sdw::sched
