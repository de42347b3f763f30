// Names of the shared types' values, and which model names are served (see job_types.h).
#include "actors/job_types.h"

#include <algorithm>

namespace sdw {

const char* to_string(WorkerErrc code) {
  switch (code) {
    case WorkerErrc::invalid_request: return "invalid_request";
    case WorkerErrc::model_not_found: return "model_not_found";
    case WorkerErrc::out_of_memory: return "out_of_memory";
    case WorkerErrc::queue_full: return "queue_full";
    case WorkerErrc::cancelled: return "cancelled";
    case WorkerErrc::timeout: return "timeout";
    case WorkerErrc::not_found: return "not_found";
    case WorkerErrc::already_finished: return "already_finished";
    case WorkerErrc::shutting_down: return "shutting_down";
    case WorkerErrc::not_ready: return "not_ready";
    case WorkerErrc::internal: return "internal";
  }
  return "internal";
}

const char* to_string(JobState state) {
  switch (state) {
    case JobState::queued: return "queued";
    case JobState::running: return "running";
    case JobState::completed: return "completed";
    case JobState::failed: return "failed";
    case JobState::cancelled: return "cancelled";
  }
  return "unknown";
}

const char* to_string(JobEvent::Type type) {
  switch (type) {
    case JobEvent::Type::queued: return "queued";
    case JobEvent::Type::started: return "started";
    case JobEvent::Type::progress: return "progress";
    case JobEvent::Type::preview: return "preview";
    case JobEvent::Type::narration: return "narration";
    case JobEvent::Type::complete: return "complete";
    case JobEvent::Type::error: return "error";
    case JobEvent::Type::cancelled: return "cancelled";
  }
  return "unknown";
}

bool ServedModel::accepts(const std::string& model) const {
  if (model == name || (!label.empty() && model == label)) return true;
  return std::find(aliases.begin(), aliases.end(), model) != aliases.end();
}

std::string ServedModel::describe() const {
  std::string out = "'" + name + "'";
  if (!aliases.empty()) {
    out += " (aliases: ";
    for (size_t i = 0; i < aliases.size(); ++i) out += (i ? ", '" : "'") + aliases[i] + "'";
    out += ")";
  }
  return out;
}

}  // namespace sdw
