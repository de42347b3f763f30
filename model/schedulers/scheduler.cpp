// The scheduler interface's free helpers (see scheduler.h).
#include "model/schedulers/scheduler.h"

#include <algorithm>

namespace sdw {

std::pair<at::Tensor, int64_t> img2img_timesteps(Scheduler& scheduler, int num_inference_steps, double strength) {
  if (!(strength >= 0.0 && strength <= 1.0)) {
    throw SchedulerError("img2img strength must be in [0.0, 1.0], got " + std::to_string(strength));
  }
  scheduler.set_timesteps(num_inference_steps);
  // get original timestep using init_timestep
  const int64_t steps = num_inference_steps;
  const int64_t init_timestep = std::min(static_cast<int64_t>(static_cast<double>(steps) * strength), steps);
  const int64_t t_start = std::max<int64_t>(steps - init_timestep, 0);
  const int64_t begin = t_start * scheduler.order();
  at::Tensor all = scheduler.timesteps();
  at::Tensor timesteps = all.slice(0, std::min<int64_t>(begin, all.size(0)));
  scheduler.set_begin_index(begin);
  return {timesteps, begin};
}

}  // namespace sdw
