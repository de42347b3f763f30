// Structured log lines (see log.h).
#include "runtime/log.h"

#include "net/rbee/heartbeat.h"  // rfc3339_utc

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

namespace sdw {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Text lines stay one line whatever the message holds.
std::string one_line(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

std::string upper_level(const std::string& level) {
  if (level == "error") return "ERROR";
  if (level == "warn") return " WARN";
  if (level == "debug") return "DEBUG";
  return " INFO";
}

}  // namespace

LogFormat log_format_from_env(std::string* unknown) {
  const char* v = std::getenv("LLORCH_LOG_FORMAT");
  const std::string s = v ? v : "";
  if (s == "json") return LogFormat::json;
  if (!s.empty() && s != "text" && s != "pretty" && unknown) *unknown = s;
  return LogFormat::text;
}

LogRecord to_log_record(const LifecycleEvent& e) {
  LogRecord r;
  r.level = e.level;
  r.actor = e.actor.empty() ? "worker" : e.actor;
  r.action = e.action;
  r.target = e.target;
  r.human = e.human;
  r.job_id = e.job_id;
  r.correlation_id = e.correlation_id;
  r.emitted_at_ms = e.emitted_at_ms;
  return r;
}

std::string format_text(const LogRecord& r) {
  std::string line = net::rfc3339_utc(r.emitted_at_ms ? r.emitted_at_ms : now_ms()) + " " + upper_level(r.level) + " [" +
                     r.actor + "] " + r.action;
  if (!r.target.empty()) line += " " + r.target;
  line += ": " + one_line(r.human);
  if (!r.job_id.empty() && r.job_id != r.target) line += " job_id=" + r.job_id;
  if (!r.correlation_id.empty()) line += " correlation_id=" + r.correlation_id;
  return line;
}

std::string format_json(const LogRecord& r) {
  const int64_t ms = r.emitted_at_ms ? r.emitted_at_ms : now_ms();
  nlohmann::json j = {{"timestamp", net::rfc3339_utc(ms)}, {"level", r.level},   {"actor", r.actor},
                      {"action", r.action},          {"target", r.target}, {"human", r.human},
                      {"emitted_at_ms", ms}};
  if (!r.job_id.empty()) j["job_id"] = r.job_id;
  if (!r.correlation_id.empty()) j["correlation_id"] = r.correlation_id;
  // Invalid UTF-8 (a path, a prompt fragment) must not make a log line throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Logger::Logger(LogFormat format) : Logger(format, std::cerr) {}
Logger::Logger(LogFormat format, std::ostream& out) : format_(format), out_(out) {}

void Logger::write(LogRecord record) {
  if (record.emitted_at_ms == 0) record.emitted_at_ms = now_ms();
  const std::string line = (format_ == LogFormat::json ? format_json(record) : format_text(record)) + "\n";
  std::lock_guard<std::mutex> lock(mutex_);
  out_ << line << std::flush;
}

void Logger::info(const std::string& actor, const std::string& action, const std::string& human,
                  const std::string& target) {
  LogRecord r;
  r.actor = actor;
  r.action = action;
  r.human = human;
  r.target = target;
  write(std::move(r));
}

void Logger::warn(const std::string& actor, const std::string& action, const std::string& human,
                  const std::string& target) {
  LogRecord r;
  r.level = "warn";
  r.actor = actor;
  r.action = action;
  r.human = human;
  r.target = target;
  write(std::move(r));
}

std::function<void(const std::string&)> Logger::line_sink(const std::string& actor, const std::string& action) {
  return [this, actor, action](const std::string& line) {
    LogRecord r;
    r.actor = actor;
    r.action = action;
    r.human = line;
    // The components say where a line is a failure; keep their words, mark the level.
    if (line.find("error") != std::string::npos || line.find("failed") != std::string::npos ||
        line.find("unreachable") != std::string::npos)
      r.level = "warn";
    write(std::move(r));
  };
}

}  // namespace sdw
