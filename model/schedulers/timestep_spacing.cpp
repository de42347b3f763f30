// Timestep spacing: the numpy code of the diffusers schedulers' set_timesteps (v0.30.3) in C++.
#include "model/schedulers/timestep_spacing.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "model/schedulers/scheduler.h"

namespace sdw::sched {

std::vector<double> np_linspace(double start, double stop, int64_t num, bool endpoint) {
  std::vector<double> y(static_cast<size_t>(std::max<int64_t>(num, 0)));
  const int64_t div = endpoint ? num - 1 : num;
  const double delta = stop - start;
  if (div > 0) {
    const double step = delta / static_cast<double>(div);
    for (int64_t i = 0; i < num; ++i) {
      const double fi = static_cast<double>(i);
      y[static_cast<size_t>(i)] = (step == 0 ? fi / static_cast<double>(div) * delta : fi * step) + start;
    }
  } else {
    for (int64_t i = 0; i < num; ++i) y[static_cast<size_t>(i)] = static_cast<double>(i) * delta + start;
  }
  if (endpoint && num > 1) y.back() = stop;
  return y;
}

std::vector<double> np_arange(double start, double stop, double step) {
  const double len_f = std::ceil((stop - start) / step);
  const int64_t len = len_f > 0 ? static_cast<int64_t>(len_f) : 0;
  std::vector<double> y(static_cast<size_t>(len));
  if (len == 0) return y;
  y[0] = start;
  if (len > 1) y[1] = start + step;
  const double delta = (len > 1 ? y[1] : start + step) - start;
  for (int64_t i = 2; i < len; ++i) y[static_cast<size_t>(i)] = start + static_cast<double>(i) * delta;
  return y;
}

double np_round(double v) { return std::nearbyint(v); }

void check_num_inference_steps(const SchedulerConfig& c, int64_t n) {
  if (n < 1) throw SchedulerError(c.class_name + ": num_inference_steps must be >= 1, got " + std::to_string(n));
  if (n > c.num_train_timesteps) {
    throw SchedulerError(c.class_name + ": num_inference_steps (" + std::to_string(n) +
                         ") cannot be larger than num_train_timesteps (" + std::to_string(c.num_train_timesteps) + ")");
  }
}

std::vector<int64_t> spaced_timesteps_int(const SchedulerConfig& c, int64_t n) {
  const int64_t T = c.num_train_timesteps;
  std::vector<int64_t> out;
  if (c.timestep_spacing == "linspace") {
    // np.linspace(0, T - 1, n).round()[::-1].astype(np.int64)
    for (double v : np_linspace(0, static_cast<double>(T - 1), n)) out.push_back(static_cast<int64_t>(np_round(v)));
    std::reverse(out.begin(), out.end());
  } else if (c.timestep_spacing == "leading") {
    // (np.arange(0, n) * (T // n)).round()[::-1] + steps_offset
    const int64_t step_ratio = T / n;
    for (int64_t i = n - 1; i >= 0; --i) out.push_back(i * step_ratio + c.steps_offset);
  } else if (c.timestep_spacing == "trailing") {
    // np.round(np.arange(T, 0, -T / n)).astype(np.int64) - 1
    const double step_ratio = static_cast<double>(T) / static_cast<double>(n);
    for (double v : np_arange(static_cast<double>(T), 0, -step_ratio)) out.push_back(static_cast<int64_t>(np_round(v)) - 1);
  } else {
    throw SchedulerError(c.class_name + ": timestep_spacing '" + c.timestep_spacing + "' is not supported");
  }
  return out;
}

std::vector<float> spaced_timesteps_float(const SchedulerConfig& c, int64_t n) {
  const int64_t T = c.num_train_timesteps;
  std::vector<float> out;
  if (c.timestep_spacing == "linspace") {
    // np.linspace(0, T - 1, n, dtype=np.float32)[::-1]
    for (double v : np_linspace(0, static_cast<double>(T - 1), n)) out.push_back(static_cast<float>(v));
    std::reverse(out.begin(), out.end());
  } else if (c.timestep_spacing == "leading") {
    // (np.arange(0, n) * (T // n)).round()[::-1].astype(np.float32); += steps_offset (float32)
    const int64_t step_ratio = T / n;
    for (int64_t i = n - 1; i >= 0; --i) {
      out.push_back(static_cast<float>(i * step_ratio) + static_cast<float>(c.steps_offset));
    }
  } else if (c.timestep_spacing == "trailing") {
    // np.arange(T, 0, -T / n).round().astype(np.float32); -= 1
    const double step_ratio = static_cast<double>(T) / static_cast<double>(n);
    for (double v : np_arange(static_cast<double>(T), 0, -step_ratio)) {
      out.push_back(static_cast<float>(np_round(v)) - 1.0f);
    }
  } else {
    throw SchedulerError(c.class_name + ": timestep_spacing '" + c.timestep_spacing + "' is not supported");
  }
  return out;
}

std::vector<int64_t> spaced_timesteps_multistep(const SchedulerConfig& c, int64_t n, int64_t last_timestep) {
  std::vector<int64_t> out;
  if (c.timestep_spacing == "linspace") {
    // np.linspace(0, last - 1, n + 1).round()[::-1][:-1].astype(np.int64)
    std::vector<double> v = np_linspace(0, static_cast<double>(last_timestep - 1), n + 1);
    for (int64_t i = n; i >= 1; --i) out.push_back(static_cast<int64_t>(np_round(v[static_cast<size_t>(i)])));
  } else if (c.timestep_spacing == "leading") {
    // (np.arange(0, n + 1) * (last // (n + 1))).round()[::-1][:-1] + steps_offset
    const int64_t step_ratio = last_timestep / (n + 1);
    for (int64_t i = n; i >= 1; --i) out.push_back(i * step_ratio + c.steps_offset);
  } else if (c.timestep_spacing == "trailing") {
    // np.arange(last, 0, -T / n).round().astype(np.int64) - 1
    const double step_ratio = static_cast<double>(c.num_train_timesteps) / static_cast<double>(n);
    for (double v : np_arange(static_cast<double>(last_timestep), 0, -step_ratio)) {
      out.push_back(static_cast<int64_t>(np_round(v)) - 1);
    }
  } else {
    throw SchedulerError(c.class_name + ": timestep_spacing '" + c.timestep_spacing + "' is not supported");
  }
  return out;
}

}  // namespace sdw::sched
