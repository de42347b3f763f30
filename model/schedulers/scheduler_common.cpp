// Shared scheduler pieces (see scheduler_common.h); ports of diffusers' randn_tensor,
// _threshold_sample, add_noise, the index helpers and the scheduler bases (v0.30.3).
#include "model/schedulers/scheduler_common.h"

#include <cmath>

#include "model/schedulers/betas.h"
#include "model/schedulers/timestep_spacing.h"

namespace sdw::sched {

at::Tensor randn_like_cpu(const at::Tensor& like, const std::optional<at::Generator>& generator) {
  c10::optional<at::Generator> gen;
  if (generator) gen = *generator;
  at::Tensor noise = at::randn(like.sizes(), gen, at::TensorOptions().dtype(at::kFloat));
  return noise.to(like.device(), like.scalar_type());
}

at::Tensor threshold_sample(const at::Tensor& sample_in, double ratio, double max_value) {
  const auto dtype = sample_in.scalar_type();
  const int64_t batch = sample_in.size(0);
  at::Tensor sample = sample_in;
  if (dtype != at::kFloat && dtype != at::kDouble) sample = sample.to(at::kFloat);  // quantile needs float
  sample = sample.reshape({batch, -1});                                             // [B, C*H*W]
  at::Tensor abs_sample = sample.abs();
  at::Tensor s = at::quantile(abs_sample, ratio, 1);                                // [B]
  s = at::clamp(s, 1, max_value);  // clamped to min=1: equivalent to clipping to [-1, 1]
  s = s.unsqueeze(1);                                                               // [B, 1]
  sample = at::clamp(sample, -s, s) / s;  // threshold to [-s, s], then divide by s
  return sample.reshape(sample_in.sizes()).to(dtype);
}

int64_t int_timestep(const std::string& cls, double timestep, int64_t num_train_timesteps) {
  if (!std::isfinite(timestep) || std::floor(timestep) != timestep || timestep < 0 ||
      timestep >= static_cast<double>(num_train_timesteps)) {
    throw SchedulerError(cls + ": timestep " + std::to_string(timestep) + " is not an integer in [0, " +
                         std::to_string(num_train_timesteps) + ")");
  }
  return static_cast<int64_t>(timestep);
}

at::Tensor add_noise_alphas(const at::Tensor& alphas_cumprod, const at::Tensor& original, const at::Tensor& noise,
                            int64_t timestep) {
  at::Tensor ac = alphas_cumprod.to(original.device(), original.scalar_type());
  at::Tensor sqrt_alpha_prod = ac[timestep].pow(0.5);
  at::Tensor sqrt_one_minus_alpha_prod = (1 - ac[timestep]).pow(0.5);
  return sqrt_alpha_prod * original + sqrt_one_minus_alpha_prod * noise;  // [B, C, H, W]
}

std::vector<double> tensor_values(const at::Tensor& t) {
  at::Tensor d = t.to(at::kCPU, at::kDouble).contiguous();
  const double* p = d.data_ptr<double>();
  return std::vector<double>(p, p + d.numel());
}

}  // namespace sdw::sched

namespace sdw {

void ConfiguredScheduler::require_timesteps(const char* what) const {
  if (!num_inference_steps_) {
    throw SchedulerError(class_name() + ": " + what + " called before set_timesteps()");
  }
}

TimestepValueScheduler::TimestepValueScheduler(SchedulerConfig config) : ConfiguredScheduler(std::move(config)) {
  alphas_cumprod_ = sched::make_alphas_cumprod(config_, /*clamp_last=*/false);
}

void TimestepValueScheduler::set_timesteps(int num_inference_steps) {
  sched::check_num_inference_steps(config_, num_inference_steps);
  num_inference_steps_ = num_inference_steps;
  timesteps_ = at::tensor(sched::spaced_timesteps_int(config_, num_inference_steps), at::kLong);  // [S]
}

int64_t TimestepValueScheduler::train_timestep(double timestep) const {
  return sched::int_timestep(class_name(), timestep, config_.num_train_timesteps);
}

at::Tensor TimestepValueScheduler::add_noise(const at::Tensor& original, const at::Tensor& noise,
                                             double timestep) const {
  return sched::add_noise_alphas(alphas_cumprod_, original, noise, train_timestep(timestep));
}

void IndexedScheduler::set_begin_index(int64_t begin_index) {
  if (begin_index < 0) throw SchedulerError(class_name() + ": begin index must be >= 0");
  begin_index_ = begin_index;
}

int64_t IndexedScheduler::index_for_timestep(double timestep, bool missing_is_last) const {
  const std::vector<double> ts = sched::tensor_values(timesteps_);
  const bool is_float = timesteps_.scalar_type() == at::kFloat;
  // torch compares the schedule with the timestep in the schedule's dtype.
  const double key = is_float ? static_cast<double>(static_cast<float>(timestep)) : timestep;
  std::vector<int64_t> hits;
  for (size_t i = 0; i < ts.size(); ++i) {
    if (ts[i] == key) hits.push_back(static_cast<int64_t>(i));
  }
  if (hits.empty()) {
    if (missing_is_last) return static_cast<int64_t>(ts.size()) - 1;
    throw SchedulerError(class_name() + ": timestep " + std::to_string(timestep) + " is not in the schedule");
  }
  return hits.size() > 1 ? hits[1] : hits[0];
}

void IndexedScheduler::init_step_index(double timestep, bool missing_is_last) {
  step_index_ = begin_index_ ? *begin_index_ : index_for_timestep(timestep, missing_is_last);
}

int64_t IndexedScheduler::add_noise_index(double timestep, bool missing_is_last) const {
  require_timesteps("add_noise()");
  if (!begin_index_) return index_for_timestep(timestep, missing_is_last);
  if (step_index_) return *step_index_;
  return *begin_index_;
}

void IndexedScheduler::reset_indices() {
  step_index_.reset();
  begin_index_.reset();
}

}  // namespace sdw
