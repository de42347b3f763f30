// Job bookkeeping (see job_table.h).
#include "actors/job_table.h"

#include <algorithm>
#include <cstdio>

#include "actors/errors.h"
#include "actors/lifecycle.h"

namespace sdw::actors {

std::string new_job_id(std::mt19937_64& rng) {
  uint8_t b[16];
  for (int i = 0; i < 16; i += 8) {
    const uint64_t v = rng();
    for (int k = 0; k < 8; ++k) b[i + k] = static_cast<uint8_t>(v >> (8 * k));
  }
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // variant 10xx
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return std::string("job-") + out;
}

job_table::job_table(size_t queue_capacity, size_t max_finished, std::chrono::milliseconds ttl,
                     size_t max_finished_bytes)
    : queue_capacity_(queue_capacity), max_finished_(max_finished), max_finished_bytes_(max_finished_bytes), ttl_(ttl) {}

job_record& job_table::add(const std::string& id, JobSubmission submission, ResolvedRequest request,
                           clock_type::time_point now, clock_type::time_point deadline) {
  job_record& job = jobs_[id];
  job.id = id;
  job.submission = std::move(submission);
  job.request = std::move(request);
  job.seed = job.request.seed;
  job.loras = job.request.request.loras;
  job.total = job.request.request.steps;
  job.submitted = now;
  job.deadline = deadline;
  queue_.push_back(id);
  JobEvent e;
  e.type = JobEvent::Type::queued;
  e.total = job.total;
  e.seed = job.seed;
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

std::optional<std::string> job_table::front_queued() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.front();
}

std::vector<std::string> job_table::running_ids() const {
  std::vector<std::string> ids;
  for (const auto& [id, job] : jobs_)
    if (job.state == JobState::running) ids.push_back(id);
  return ids;
}

JobEvent& job_table::append(job_record& job, JobEvent event) {
  event.job_id = job.id;
  event.correlation_id = job.submission.correlation_id;
  event.emitted_at_ms = epoch_ms_now();
  size_t bytes = 0;
  for (const EncodedImage& image : event.images) bytes += image.bytes.size();
  job.image_bytes += bytes;
  if (is_terminal(job.state)) finished_bytes_ += bytes;  // the terminal event comes after finish()
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
  e.seed = job.seed;
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
  job.request = ResolvedRequest{};
  finished_bytes_ += job.image_bytes;
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
    const bool over_bytes = finished_bytes_ > max_finished_bytes_ && finished_.size() > 1;  // the newest stays
    if (!expired && finished_.size() <= max_finished_ && !over_bytes) break;
    if (it != jobs_.end()) {
      finished_bytes_ -= it->second.image_bytes;
      dropped.push_back(it->first);
      jobs_.erase(it);
    }
    finished_.pop_front();
  }
  for (auto it = polls_.begin(); it != polls_.end();) {
    if (std::find(dropped.begin(), dropped.end(), it->second.job) != dropped.end()) {
      it->second.events.deliver(make_sd_error(WorkerErrc::not_found, "job " + it->second.job + " was dropped"));
      it = polls_.erase(it);
    } else {
      ++it;
    }
  }
  return dropped;
}

std::optional<clock_type::time_point> job_table::next_expiry() const {
  if (finished_.empty()) return std::nullopt;
  auto it = jobs_.find(finished_.front());
  if (it == jobs_.end()) return clock_type::now();
  return it->second.finished + ttl_;
}

event_batch job_table::batch_from(const job_record& job, uint64_t from) {
  event_batch b;
  if (from < job.events.size()) b.events.assign(job.events.begin() + static_cast<std::ptrdiff_t>(from), job.events.end());
  b.finished = is_terminal(job.state);
  return b;
}

uint64_t job_table::park(const std::string& job, uint64_t from, caf::typed_response_promise<event_batch> promise) {
  const uint64_t token = new_token();
  polls_[token] = parked_poll{job, from, std::move(promise)};
  return token;
}

void job_table::deliver_polls(const job_record& job) {
  for (auto it = polls_.begin(); it != polls_.end();) {
    parked_poll& p = it->second;
    if (p.job == job.id && (p.from < job.events.size() || is_terminal(job.state))) {
      p.events.deliver(batch_from(job, p.from));
      it = polls_.erase(it);
    } else {
      ++it;
    }
  }
}

bool job_table::expire(uint64_t token) {
  auto it = polls_.find(token);
  if (it == polls_.end()) return false;
  if (const job_record* job = find(it->second.job))
    it->second.events.deliver(batch_from(*job, it->second.from));
  else
    it->second.events.deliver(make_sd_error(WorkerErrc::not_found, "no job " + it->second.job));
  polls_.erase(it);
  return true;
}

}  // namespace sdw::actors
