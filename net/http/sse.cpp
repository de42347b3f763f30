// SSE rendering of job events (see sse.h).
#include "net/http/sse.h"

#include <cmath>
#include <filesystem>

#include "net/http/errors.h"

namespace sdw::net {
namespace {

using Type = JobEvent::Type;

double percent(int step, int total) { return total > 0 ? std::round(1000.0 * step / total) / 10.0 : 0.0; }

nlohmann::json image_json(const EncodedImage& image) {
  return {{"image", encode_base64(image.bytes)}, {"format", image.format}, {"width", image.width}, {"height", image.height}};
}

const char* narration_action(const JobEvent& e) {
  switch (e.type) {
    case Type::queued: return "job_queued";
    case Type::started: return "job_started";
    case Type::cancelled: return "job_cancelled";
    default: return e.action.empty() ? "narration" : e.action.c_str();
  }
}

std::string narration_text(const JobEvent& e) {
  if (!e.message.empty()) return e.type == Type::cancelled ? "Job cancelled: " + e.message : e.message;
  switch (e.type) {
    case Type::queued: return "Job queued";
    case Type::started: return "Job started";
    case Type::cancelled: return "Job cancelled";
    default: return "";
  }
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

const char* sse_event_name(const JobEvent& event) {
  switch (event.type) {
    case Type::progress: return "progress";
    case Type::preview: return "preview";
    case Type::complete: return "complete";
    case Type::error: return "error";
    default: return "narration";
  }
}

nlohmann::json event_json(const JobEvent& e) {
  nlohmann::json j = {{"type", sse_event_name(e)}, {"job_id", e.job_id}};
  switch (e.type) {
    case Type::progress:
    case Type::preview:
      j["step"] = e.step;
      j["total"] = e.total;
      j["percent"] = percent(e.step, e.total);
      j["elapsed_ms"] = e.elapsed_ms;
      if (e.type == Type::preview && !e.images.empty()) j.update(image_json(e.images.front()));
      break;
    case Type::complete: {
      if (!e.images.empty()) j.update(image_json(e.images.front()));
      j["num_images"] = e.images.size();
      if (e.images.size() > 1) {
        nlohmann::json all = nlohmann::json::array();
        for (const auto& img : e.images) all.push_back(encode_base64(img.bytes));
        j["images"] = std::move(all);
      }
      j["seed"] = e.seed;
      j["steps"] = e.total;
      if (!e.scheduler.empty()) j["scheduler"] = e.scheduler;
      if (!e.loras.empty()) {
        nlohmann::json loras = nlohmann::json::array();  // names, never the worker's paths
        for (const auto& l : e.loras)
          loras.push_back({{"name", std::filesystem::path(l.path).stem().string()}, {"strength", l.strength}});
        j["loras"] = std::move(loras);
      }
      j["timings"] = {{"encode_ms", e.encode_ms},
                      {"denoise_ms", e.denoise_ms},
                      {"decode_ms", e.decode_ms},
                      {"image_encode_ms", e.image_encode_ms},
                      {"total_ms", e.elapsed_ms}};
      j["elapsed_ms"] = e.elapsed_ms;
      break;
    }
    case Type::error:
      j["message"] = e.message;
      if (!e.error_code.empty()) j["code"] = e.error_code;
      break;
    default:  // narration, queued, started, cancelled
      j["actor"] = e.actor.empty() ? "sd-worker" : e.actor;
      j["action"] = narration_action(e);
      j["target"] = e.target.empty() ? e.job_id : e.target;
      j["human"] = narration_text(e);
      j["emitted_at_ms"] = e.emitted_at_ms;
      if (!e.correlation_id.empty()) j["correlation_id"] = e.correlation_id;
      if (e.type == Type::cancelled) {
        j["message"] = e.message;
        if (!e.error_code.empty()) j["code"] = e.error_code;
      }
      break;
  }
  return j;
}

std::string terminal_marker(const JobEvent& event) {
  switch (event.type) {
    case Type::complete: return "[DONE]";
    case Type::cancelled: return "[CANCELLED]";
    default: return "[ERROR] " + one_line(event.message.empty() ? std::string("job failed") : event.message);
  }
}

std::string sse_frame(const std::string& event, const std::string& data, int64_t id) {
  std::string out;
  if (id >= 0) out += "id: " + std::to_string(id) + "\n";
  if (!event.empty()) out += "event: " + event + "\n";
  size_t start = 0;
  while (true) {
    const size_t nl = data.find('\n', start);
    std::string line = data.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out += "data: " + line + "\n";
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out + "\n";
}

SsePump::SsePump(std::shared_ptr<EventStream> stream, SseOptions options)
    : stream_(std::move(stream)), options_(options), last_output_(std::chrono::steady_clock::now()) {}

SsePump::~SsePump() {
  if (!done_) reader_gone();
}

void SsePump::reader_gone() {
  if (detached_ || !stream_) return;
  detached_ = true;
  stream_->detach();
}

bool SsePump::next_chunk(std::string& out) {
  out.clear();
  if (done_) return false;
  JobEvent event;
  const auto now = [] { return std::chrono::steady_clock::now(); };
  if (stream_->next(event, options_.poll)) {
    ++seq_;
    if (options_.on_event) options_.on_event(event);
    if (seq_ > options_.last_event_id) {
      out = sse_frame(sse_event_name(event), dump_json(event_json(event)), seq_);
      ++sent_;
    }
    if (event.terminal()) {
      ++seq_;
      out += sse_frame("", terminal_marker(event), seq_);
      done_ = true;
      return false;
    }
    if (!out.empty()) last_output_ = now();
    return true;
  }
  if (stream_->finished()) {  // ended without a terminal event: never leave a reader hanging
    out = sse_frame("", "[ERROR] the job's event stream ended without a result", ++seq_);
    done_ = true;
    return false;
  }
  if (now() - last_output_ >= options_.keepalive) {
    out = kKeepAliveFrame;
    last_output_ = now();
  }
  return true;
}

}  // namespace sdw::net
