// Server-sent events for a job's stream: the JSON of each JobEvent in rbee's format
// (`event: progress|preview|complete|error|narration`), the final marker line
// (`data: [DONE]`, `data: [ERROR] <message>`, `data: [CANCELLED]`), keep-alive comments, and
// SsePump, which turns an EventStream into text chunks for any writer (no HTTP here).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "actors/worker.h"

namespace sdw::net {

// progress | preview | complete | error | narration (queued, started and cancelled are
// narration events: rbee defines no event of their own).
const char* sse_event_name(const JobEvent& event);
// The `data:` JSON of an event: {"type":...,"job_id":...} plus the type's fields (see docs/http.md).
nlohmann::json event_json(const JobEvent& event);
// The marker after a terminal event: "[DONE]", "[ERROR] <message on one line>", "[CANCELLED]".
std::string terminal_marker(const JobEvent& event);

// One SSE frame: optional `id:` (when id >= 0), optional `event:`, one `data:` line per line
// of `data`, then a blank line.
std::string sse_frame(const std::string& event, const std::string& data, int64_t id = -1);
inline constexpr const char* kKeepAliveFrame = ": keep-alive\n\n";

struct SseOptions {
  std::chrono::milliseconds keepalive{5000};  // a comment after this long without output
  std::chrono::milliseconds poll{250};        // longest wait inside one next_chunk()
  int64_t last_event_id = -1;                 // Last-Event-ID: events up to it are skipped
  std::function<void(const JobEvent&)> on_event;  // sees every event read (metrics)
};

// Pulls a job's events and renders them. Event ids count the job's events from 1 (history
// included), so they are the same for every reader; the marker takes the next id.
class SsePump {
 public:
  SsePump(std::shared_ptr<EventStream> stream, SseOptions options);
  ~SsePump();  // detaches from the stream if it was not read to the end
  SsePump(const SsePump&) = delete;
  SsePump& operator=(const SsePump&) = delete;

  // Sets `out` to the next text to send (a frame, a keep-alive comment, or "" after waiting up to
  // `poll`). Returns false once the stream is over: `out` then holds the last text to send.
  bool next_chunk(std::string& out);
  // The reader went away: detaches (the job cancels only if it asked to).
  void reader_gone();
  bool done() const { return done_; }
  int64_t events_sent() const { return sent_; }

 private:
  std::shared_ptr<EventStream> stream_;
  SseOptions options_;
  int64_t seq_ = 0;
  int64_t sent_ = 0;
  bool done_ = false;
  bool detached_ = false;
  std::chrono::steady_clock::time_point last_output_;
};

}  // namespace sdw::net
