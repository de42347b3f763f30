// Port of diffusers' UniPCMultistepScheduler (schedulers/scheduling_unipc_multistep.py, v0.30.3).
#include "model/schedulers/unipc.h"

#include <algorithm>
#include <cmath>

#include "model/schedulers/betas.h"
#include "model/schedulers/sigma_schedule.h"
#include "model/schedulers/timestep_spacing.h"

namespace sdw {

using sched::alpha_sigma_t;
using sched::lambda_of;

namespace {

// torch.tensor([t0, t1, ..., 1.0]) of 0-dim float32 tensors and Python floats: [K] float32
at::Tensor stack_scalars(const std::vector<at::Tensor>& values) {
  std::vector<float> v;
  for (const auto& t : values) v.push_back(t.item<float>());
  return at::tensor(v, at::TensorOptions().dtype(at::kFloat));
}

// The shared part of UniP/UniC: rks, R, b (B(h) variant) for `order`.
struct BhTerms {
  at::Tensor hh;       // 0-dim: -h (predict_x0) or h
  at::Tensor h_phi_1;  // 0-dim: expm1(hh)
  at::Tensor B_h;      // 0-dim
  at::Tensor R;        // [order, order]
  at::Tensor b;        // [order]
};

BhTerms bh_terms(const at::Tensor& h, std::vector<at::Tensor> rks, int64_t order, bool predict_x0,
                 const std::string& solver_type) {
  BhTerms o;
  rks.push_back(at::scalar_tensor(1.0, at::kFloat));
  at::Tensor rks_t = stack_scalars(rks);  // [order]
  o.hh = predict_x0 ? -h : h;
  o.h_phi_1 = at::expm1(o.hh);  // h * phi_1(h) = e^h - 1
  at::Tensor h_phi_k = o.h_phi_1 / o.hh - 1;
  int64_t factorial_i = 1;
  o.B_h = solver_type == "bh1" ? o.hh : at::expm1(o.hh);
  std::vector<at::Tensor> R;
  std::vector<at::Tensor> b;
  for (int64_t i = 1; i <= order; ++i) {
    R.push_back(at::pow(rks_t, i - 1));
    b.push_back(h_phi_k * factorial_i / o.B_h);
    factorial_i *= i + 1;
    h_phi_k = h_phi_k / o.hh - 1.0 / static_cast<double>(factorial_i);
  }
  o.R = at::stack(R);
  o.b = stack_scalars(b);
  return o;
}

}  // namespace

UniPcScheduler::UniPcScheduler(SchedulerConfig config) : MultistepSigmaScheduler(std::move(config)) {
  alphas_cumprod_ = sched::make_alphas_cumprod(config_, /*clamp_last=*/true);
}

void UniPcScheduler::set_timesteps(int num_inference_steps) {
  sched::check_num_inference_steps(config_, num_inference_steps);
  const int64_t n = num_inference_steps;
  std::vector<int64_t> ts = sched::spaced_timesteps_multistep(config_, n, config_.num_train_timesteps);
  std::vector<double> timesteps(ts.begin(), ts.end());

  const std::vector<float> train = sched::train_sigmas(alphas_cumprod_);
  std::vector<double> sigmas;
  double sigma_last = 0.0;
  if (config_.use_karras_sigmas) {
    const std::vector<float> log_sigmas = sched::log_f32(train);
    sigmas = sched::karras_sigmas(static_cast<double>(train.front()), static_cast<double>(train.back()), n);
    timesteps.clear();
    for (double s : sigmas) timesteps.push_back(sched::np_round(sched::sigma_to_t(s, log_sigmas)));
    if (config_.final_sigmas_type == "sigma_min") sigma_last = sigmas.back();
  } else {
    sigmas = sched::interp_sigmas(timesteps, train);
    if (config_.final_sigmas_type == "sigma_min") sigma_last = static_cast<double>(train.front());
  }
  sigmas.push_back(sigma_last);
  set_schedule(sigmas, timesteps);
  this_order_ = 0;
  last_sample_ = at::Tensor();
}

at::Tensor UniPcScheduler::convert_model_output(const at::Tensor& model_output, const at::Tensor& sample) const {
  auto [alpha_t, sigma_t] = alpha_sigma_t(sigmas_[*step_index_]);
  const std::string& pt = config_.prediction_type;
  if (config_.predict_x0) return data_prediction(model_output, sample, alpha_t, sigma_t);
  if (pt == "epsilon") return model_output;
  if (pt == "sample") return (sample - alpha_t * model_output) / sigma_t;
  return alpha_t * model_output + sigma_t * sample;  // v_prediction
}

at::Tensor UniPcScheduler::uni_p_bh_update(const at::Tensor& x, int64_t order) const {
  const size_t k = model_outputs_.size();
  const at::Tensor& m0 = model_outputs_[k - 1];
  const int64_t si0 = *step_index_;
  auto [alpha_t, sigma_t] = alpha_sigma_t(sigmas_[si0 + 1]);
  auto [alpha_s0, sigma_s0] = alpha_sigma_t(sigmas_[si0]);
  at::Tensor lambda_t = lambda_of(alpha_t, sigma_t);
  at::Tensor lambda_s0 = lambda_of(alpha_s0, sigma_s0);
  at::Tensor h = lambda_t - lambda_s0;

  std::vector<at::Tensor> rks;
  std::vector<at::Tensor> D1s;
  for (int64_t i = 1; i < order; ++i) {
    const int64_t si = si0 - i;
    const at::Tensor& mi = model_outputs_[k - 1 - static_cast<size_t>(i)];
    auto [alpha_si, sigma_si] = alpha_sigma_t(sigmas_[si]);
    at::Tensor lambda_si = lambda_of(alpha_si, sigma_si);
    at::Tensor rk = (lambda_si - lambda_s0) / h;
    rks.push_back(rk);
    D1s.push_back((mi - m0) / rk);
  }
  BhTerms t = bh_terms(h, rks, order, config_.predict_x0, config_.solver_type);

  at::Tensor pred_res;  // [B, C, H, W], or the Python 0 when there is no history
  if (!D1s.empty()) {
    at::Tensor d1s = at::stack(D1s, 1);  // [B, K, C, H, W]
    at::Tensor rhos_p;
    if (order == 2) {
      // for order 2 diffusers uses the simplified rho = 0.5
      rhos_p = at::tensor(std::vector<float>{0.5f}, at::TensorOptions().dtype(x.scalar_type()));
    } else {
      rhos_p = at::linalg_solve(t.R.slice(0, 0, -1).slice(1, 0, -1), t.b.slice(0, 0, -1)).to(x.scalar_type());
    }
    pred_res = at::einsum("k,bkc...->bc...", {rhos_p, d1s});
  } else {
    pred_res = at::scalar_tensor(0, at::kLong);
  }

  at::Tensor x_t;
  if (config_.predict_x0) {
    at::Tensor x_t_ = sigma_t / sigma_s0 * x - alpha_t * t.h_phi_1 * m0;
    x_t = x_t_ - alpha_t * t.B_h * pred_res;
  } else {
    at::Tensor x_t_ = alpha_t / alpha_s0 * x - sigma_t * t.h_phi_1 * m0;
    x_t = x_t_ - sigma_t * t.B_h * pred_res;
  }
  return x_t.to(x.scalar_type());
}

at::Tensor UniPcScheduler::uni_c_bh_update(const at::Tensor& model_t, const at::Tensor& x, int64_t order) const {
  const size_t k = model_outputs_.size();
  const at::Tensor& m0 = model_outputs_[k - 1];
  const int64_t si0 = *step_index_;
  auto [alpha_t, sigma_t] = alpha_sigma_t(sigmas_[si0]);
  auto [alpha_s0, sigma_s0] = alpha_sigma_t(sigmas_[si0 - 1]);
  at::Tensor lambda_t = lambda_of(alpha_t, sigma_t);
  at::Tensor lambda_s0 = lambda_of(alpha_s0, sigma_s0);
  at::Tensor h = lambda_t - lambda_s0;

  std::vector<at::Tensor> rks;
  std::vector<at::Tensor> D1s;
  for (int64_t i = 1; i < order; ++i) {
    const int64_t si = si0 - (i + 1);
    const at::Tensor& mi = model_outputs_[k - 1 - static_cast<size_t>(i)];
    auto [alpha_si, sigma_si] = alpha_sigma_t(sigmas_[si]);
    at::Tensor lambda_si = lambda_of(alpha_si, sigma_si);
    at::Tensor rk = (lambda_si - lambda_s0) / h;
    rks.push_back(rk);
    D1s.push_back((mi - m0) / rk);
  }
  BhTerms t = bh_terms(h, rks, order, config_.predict_x0, config_.solver_type);

  at::Tensor rhos_c;
  if (order == 1) {
    // for order 1 diffusers uses the simplified rho = 0.5
    rhos_c = at::tensor(std::vector<float>{0.5f}, at::TensorOptions().dtype(x.scalar_type()));
  } else {
    rhos_c = at::linalg_solve(t.R, t.b).to(x.scalar_type());
  }
  at::Tensor corr_res;
  if (!D1s.empty()) {
    at::Tensor d1s = at::stack(D1s, 1);  // [B, K, C, H, W]
    corr_res = at::einsum("k,bkc...->bc...", {rhos_c.slice(0, 0, -1), d1s});
  } else {
    corr_res = at::scalar_tensor(0, at::kLong);
  }
  at::Tensor D1_t = model_t - m0;
  at::Tensor x_t;
  if (config_.predict_x0) {
    at::Tensor x_t_ = sigma_t / sigma_s0 * x - alpha_t * t.h_phi_1 * m0;
    x_t = x_t_ - alpha_t * t.B_h * (corr_res + rhos_c[-1] * D1_t);
  } else {
    at::Tensor x_t_ = alpha_t / alpha_s0 * x - sigma_t * t.h_phi_1 * m0;
    x_t = x_t_ - sigma_t * t.B_h * (corr_res + rhos_c[-1] * D1_t);
  }
  return x_t.to(x.scalar_type());
}

SchedulerStepOutput UniPcScheduler::step(const at::Tensor& model_output, double timestep, const at::Tensor& sample_in,
                                         std::optional<at::Generator> /*generator*/) {
  begin_step(timestep);
  const int64_t n = timesteps_.size(0);

  const auto& disabled = config_.disable_corrector;
  const bool use_corrector = *step_index_ > 0 &&
                             std::find(disabled.begin(), disabled.end(), *step_index_ - 1) == disabled.end() &&
                             last_sample_.defined();

  at::Tensor model_output_convert = convert_model_output(model_output, sample_in);
  at::Tensor sample = sample_in;
  if (use_corrector) sample = uni_c_bh_update(model_output_convert, last_sample_, this_order_);

  push_model_output(model_output_convert);

  int64_t this_order = config_.solver_order;
  if (config_.lower_order_final) this_order = std::min(config_.solver_order, n - *step_index_);
  this_order_ = std::min(this_order, lower_order_nums_ + 1);  // warmup for multistep

  last_sample_ = sample;
  at::Tensor prev_sample = uni_p_bh_update(sample, this_order_);
  if (lower_order_nums_ < config_.solver_order) lower_order_nums_ += 1;
  *step_index_ += 1;
  return {prev_sample, {}};
}

}  // namespace sdw
