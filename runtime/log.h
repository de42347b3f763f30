// Structured log lines for the worker's life (rbee narration): one record per line on stderr,
// as text for people or as JSON for machines, chosen by LLORCH_LOG_FORMAT ("text" default,
// "json"). Records carry rbee's narration fields: actor, action, target, human, and job_id /
// correlation_id where a job is concerned.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <mutex>
#include <string>

#include "actors/worker.h"

namespace sdw {

enum class LogFormat { text, json };

// LLORCH_LOG_FORMAT: "json" -> json; unset, "", "text" or "pretty" -> text; anything else -> text
// and `*unknown` (when given) is set to the value so the caller can warn once.
LogFormat log_format_from_env(std::string* unknown = nullptr);

struct LogRecord {
  std::string level = "info";  // debug | info | warn | error
  std::string actor = "sd-worker";
  std::string action;
  std::string target;
  std::string human;
  std::string job_id, correlation_id;
  int64_t emitted_at_ms = 0;  // 0: now
};

LogRecord to_log_record(const LifecycleEvent& event);

// `2026-11-27T03:04:05.678Z  INFO [loader] model_load demo: estimated footprint 1.9 GiB job_id=...`
std::string format_text(const LogRecord& record);
// {"timestamp":...,"level":"info","actor":...,"action":...,"target":...,"human":...,
//  "emitted_at_ms":...} plus job_id / correlation_id when set.
std::string format_json(const LogRecord& record);

// Writes records as lines to a stream (std::cerr by default); thread-safe.
class Logger {
 public:
  explicit Logger(LogFormat format);
  Logger(LogFormat format, std::ostream& out);

  void write(LogRecord record);
  void write(const LifecycleEvent& event) { write(to_log_record(event)); }
  void info(const std::string& actor, const std::string& action, const std::string& human,
            const std::string& target = "");
  void warn(const std::string& actor, const std::string& action, const std::string& human,
            const std::string& target = "");
  // A line logger for components that log plain text (HTTP request log, heartbeats).
  std::function<void(const std::string&)> line_sink(const std::string& actor, const std::string& action);

  LogFormat format() const { return format_; }

 private:
  LogFormat format_;
  std::ostream& out_;
  std::mutex mutex_;
};

}  // namespace sdw
