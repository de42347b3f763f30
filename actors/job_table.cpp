// Job bookkeeping (see job_table.h).
#include "actors/job_table.h"

#include <algorithm>

namespace sdw::actors {

int64_t epoch_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

job_table::job_table(size_t queue_capacity, size_t max_finished, std::chrono::milliseconds ttl)
    : queue_capacity_(queue_capacity), max_finished_(max_finished), ttl_(ttl) {}

job_record& job_table::add(const std::string& id, job_spec spec, clock_type::time_point now,
                           clock_type::time_point deadline) {
  job_record& job = jobs_[id];
  job.id = id;
  job.spec = std::move(spec);
  job.total = job.spec.steps;
  job.submitted = now;
  job.deadline = deadline;
  queue_.push_back(id);
  JobEvent e;
  e.type = JobEvent::Type::queued;
  e.total = job.total;
  e.seed = job.spec.seed;
  append(job, std::move(e));
  return job;
}

job_record* job_table::find(const std::string& id) {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : &it->second;
}

const job_record* job_table::find(const std::string& id) const {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : &it->second;
}

int job_table::queue_position(const std::string& id) const {
  auto it = std::find(queue_.begin(), queue_.end(), id);
  return it == queue_.end() ? 0 : static_cast<int>(it - queue_.begin()) + 1;
}

std::optional<std::string> job_table::pop_queued() {
  if (queue_.empty()) return std::nullopt;
  std::string id = std::move(queue_.front());
  queue_.pop_front();
  return id;
}

std::vector<std::string> job_table::running_ids() const {
  std::vector<std::string> ids;
  for (const auto& [id, job] : jobs_)
    if (job.state == JobState::running) ids.push_back(id);
  return ids;
}

JobEvent& job_table::append(job_record& job, JobEvent event) {
  event.job_id = job.id;
  event.correlation_id = job.spec.correlation_id;
  event.emitted_at_ms = epoch_ms_now();
  job.events.push_back(std::move(event));
  return job.events.back();
}

void job_table::start(job_record& job, int device, clock_type::time_point now) {
  job.state = JobState::running;
  job.device = device;
  job.started = now;
  ++running_;
  JobEvent e;
  e.type = JobEvent::Type::started;
  e.total = job.total;
  e.seed = job.spec.seed;
  append(job, std::move(e));
}

void job_table::finish(job_record& job, JobState state, clock_type::time_point now) {
  if (is_terminal(job.state)) return;
  if (job.state == JobState::queued) {
    auto it = std::find(queue_.begin(), queue_.end(), job.id);
    if (it != queue_.end()) queue_.erase(it);
  } else {
    --running_;
  }
  job.state = state;
  job.finished = now;
  job.spec.init_image = image_msg{};
  job.spec.mask_image = image_msg{};
  switch (state) {
    case JobState::completed: ++counts_.completed; break;
    case JobState::failed: ++counts_.failed; break;
    case JobState::cancelled: ++counts_.cancelled; break;
    default: break;
  }
  finished_.push_back(job.id);
}

std::vector<std::string> job_table::evict(clock_type::time_point now) {
  std::vector<std::string> dropped;
  while (!finished_.empty()) {
    auto it = jobs_.find(finished_.front());
    const bool expired = it == jobs_.end() || it->second.finished + ttl_ <= now;
    if (!expired && finished_.size() <= max_finished_) break;
    if (it != jobs_.end()) {
      dropped.push_back(it->first);
      jobs_.erase(it);
    }
    finished_.pop_front();
  }
  return dropped;
}

std::optional<clock_type::time_point> job_table::next_expiry() const {
  if (finished_.empty()) return std::nullopt;
  auto it = jobs_.find(finished_.front());
  if (it == jobs_.end()) return clock_type::now();
  return it->second.finished + ttl_;
}

}  // namespace sdw::actors
