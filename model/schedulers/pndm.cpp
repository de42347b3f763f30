// Port of diffusers' PNDMScheduler (schedulers/scheduling_pndm.py, v0.30.3).
#include "model/schedulers/pndm.h"

#include <algorithm>

#include "model/schedulers/timestep_spacing.h"

namespace sdw {
namespace {
constexpr int64_t kPndmOrder = 4;  // F-PNDM: the Runge-Kutta warm-up has 4 stages
}

PndmScheduler::PndmScheduler(SchedulerConfig config) : TimestepValueScheduler(std::move(config)) {
  final_alpha_cumprod_ = config_.set_alpha_to_one ? at::scalar_tensor(1.0, at::kFloat) : alphas_cumprod_[0];
}

void PndmScheduler::set_timesteps(int num_inference_steps) {
  sched::check_num_inference_steps(config_, num_inference_steps);
  const int64_t n = num_inference_steps;
  const int64_t T = config_.num_train_timesteps;
  num_inference_steps_ = n;

  // _timesteps: ascending
  std::vector<int64_t> ts;
  if (config_.timestep_spacing == "linspace") {
    for (double v : sched::np_linspace(0, static_cast<double>(T - 1), n)) ts.push_back(static_cast<int64_t>(sched::np_round(v)));
  } else if (config_.timestep_spacing == "leading") {
    const int64_t step_ratio = T / n;
    for (int64_t i = 0; i < n; ++i) ts.push_back(i * step_ratio + config_.steps_offset);
  } else {  // trailing: np.round(np.arange(T, 0, -T / n))[::-1] - 1
    for (double v : sched::np_arange(static_cast<double>(T), 0, -static_cast<double>(T) / static_cast<double>(n))) {
      ts.push_back(static_cast<int64_t>(sched::np_round(v)) - 1);
    }
    std::reverse(ts.begin(), ts.end());
  }

  std::vector<int64_t> prk;
  std::vector<int64_t> plms;
  if (config_.skip_prk_steps) {
    // PLMS (crowsonkb, CompVis/latent-diffusion#51): [ts[:-1], ts[-2:-1], ts[-1:]][::-1]
    plms.assign(ts.begin(), ts.end() - 1);
    if (ts.size() >= 2) plms.push_back(ts[ts.size() - 2]);
    plms.push_back(ts.back());
    std::reverse(plms.begin(), plms.end());
  } else {
    if (n < kPndmOrder) {
      throw SchedulerError("PNDMScheduler: the Runge-Kutta warm-up needs num_inference_steps >= 4 (or skip_prk_steps)");
    }
    // prk = (ts[-4:].repeat(2) + tile([0, T // n // 2], 4))[:-1].repeat(2)[1:-1][::-1]
    std::vector<int64_t> base;
    for (int64_t i = n - kPndmOrder; i < n; ++i) {
      base.push_back(ts[static_cast<size_t>(i)]);
      base.push_back(ts[static_cast<size_t>(i)] + T / n / 2);
    }
    base.pop_back();
    std::vector<int64_t> rep;
    for (int64_t v : base) {
      rep.push_back(v);
      rep.push_back(v);
    }
    prk.assign(rep.begin() + 1, rep.end() - 1);
    std::reverse(prk.begin(), prk.end());
    plms.assign(ts.begin(), ts.end() - 3);
    std::reverse(plms.begin(), plms.end());
  }
  num_prk_timesteps_ = static_cast<int64_t>(prk.size());
  std::vector<int64_t> all = prk;
  all.insert(all.end(), plms.begin(), plms.end());
  timesteps_ = at::tensor(all, at::kLong);  // [S']

  ets_.clear();
  counter_ = 0;
  cur_model_output_ = at::Tensor();
  cur_sample_ = at::Tensor();
}

SchedulerStepOutput PndmScheduler::step(const at::Tensor& model_output, double timestep, const at::Tensor& sample,
                                        std::optional<at::Generator> /*generator*/) {
  require_timesteps("step()");
  const int64_t t = train_timestep(timestep);
  if (counter_ < num_prk_timesteps_ && !config_.skip_prk_steps) return {step_prk(model_output, t, sample), {}};
  return {step_plms(model_output, t, sample), {}};
}

at::Tensor PndmScheduler::step_prk(const at::Tensor& model_output, int64_t timestep, const at::Tensor& sample) {
  const int64_t diff_to_prev = counter_ % 2 ? 0 : config_.num_train_timesteps / *num_inference_steps_ / 2;
  const int64_t prev_timestep = timestep - diff_to_prev;
  timestep = timesteps_[counter_ / 4 * 4].item<int64_t>();

  at::Tensor eps = model_output;
  if (counter_ % 4 == 0) {
    cur_model_output_ = model_output * (1.0 / 6);
    ets_.push_back(model_output);
    cur_sample_ = sample;
  } else if ((counter_ - 1) % 4 == 0) {
    cur_model_output_ = cur_model_output_ + model_output * (1.0 / 3);
  } else if ((counter_ - 2) % 4 == 0) {
    cur_model_output_ = cur_model_output_ + model_output * (1.0 / 3);
  } else if ((counter_ - 3) % 4 == 0) {
    eps = cur_model_output_ + model_output * (1.0 / 6);
    cur_model_output_ = at::Tensor();
  }
  // cur_sample is only None on the first call, when it is set above
  at::Tensor cur_sample = cur_sample_.defined() ? cur_sample_ : sample;
  at::Tensor prev = prev_sample(cur_sample, timestep, prev_timestep, eps);
  counter_ += 1;
  return prev;
}

at::Tensor PndmScheduler::step_plms(const at::Tensor& model_output_in, int64_t timestep, const at::Tensor& sample_in) {
  if (!config_.skip_prk_steps && ets_.size() < 3) {
    throw SchedulerError("PNDMScheduler: PLMS needs at least 3 Runge-Kutta warm-up steps first");
  }
  at::Tensor model_output = model_output_in;
  at::Tensor sample = sample_in;
  const int64_t delta = config_.num_train_timesteps / *num_inference_steps_;
  int64_t prev_timestep = timestep - delta;

  if (counter_ != 1) {
    if (ets_.size() > 3) ets_.erase(ets_.begin(), ets_.end() - 3);
    ets_.push_back(model_output);
  } else {
    // the warm-up repeat: evaluate at the same timestep again and step from the previous sample
    prev_timestep = timestep;
    timestep = timestep + delta;
  }

  const size_t n = ets_.size();
  if (n == 1 && counter_ == 0) {
    cur_sample_ = sample;
  } else if (n == 1 && counter_ == 1) {
    model_output = (model_output + ets_[n - 1]) / 2;
    sample = cur_sample_;
    cur_sample_ = at::Tensor();
  } else if (n == 2) {
    model_output = (3 * ets_[n - 1] - ets_[n - 2]) / 2;
  } else if (n == 3) {
    model_output = (23 * ets_[n - 1] - 16 * ets_[n - 2] + 5 * ets_[n - 3]) / 12;
  } else {
    model_output = (55 * ets_[n - 1] - 59 * ets_[n - 2] + 37 * ets_[n - 3] - 9 * ets_[n - 4]) * (1.0 / 24);
  }

  at::Tensor prev = prev_sample(sample, timestep, prev_timestep, model_output);
  counter_ += 1;
  return prev;
}

at::Tensor PndmScheduler::prev_sample(const at::Tensor& sample, int64_t timestep, int64_t prev_timestep,
                                      at::Tensor model_output) const {
  if (timestep < 0 || timestep >= config_.num_train_timesteps) {
    throw SchedulerError("PNDMScheduler: timestep " + std::to_string(timestep) + " out of range");
  }
  at::Tensor alpha_prod_t = alphas_cumprod_[timestep];
  at::Tensor alpha_prod_t_prev = prev_timestep >= 0 ? alphas_cumprod_[prev_timestep] : final_alpha_cumprod_;
  at::Tensor beta_prod_t = 1 - alpha_prod_t;
  at::Tensor beta_prod_t_prev = 1 - alpha_prod_t_prev;

  if (config_.prediction_type == "v_prediction") {
    model_output = alpha_prod_t.pow(0.5) * model_output + beta_prod_t.pow(0.5) * sample;
  }

  // (a_prev - a_t) / (sqrt(a_t) * (sqrt(a_prev) + sqrt(a_t))) + 1 = sqrt(a_prev / a_t)
  at::Tensor sample_coeff = (alpha_prod_t_prev / alpha_prod_t).pow(0.5);
  // denominator of e_theta(x_t, t) in formula (9)
  at::Tensor model_output_denom_coeff =
      alpha_prod_t * beta_prod_t_prev.pow(0.5) + (alpha_prod_t * beta_prod_t * alpha_prod_t_prev).pow(0.5);
  // full formula (9)
  return sample_coeff * sample - (alpha_prod_t_prev - alpha_prod_t) * model_output / model_output_denom_coeff;
}

}  // namespace sdw
