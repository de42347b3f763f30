// The current AUTOMATIC1111 request (see a1111_session.h).
#include "net/http/a1111_session.h"

#include <ctime>

namespace sdw::net {
namespace {

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
  return buf;
}

}  // namespace

A1111Session::Entry* A1111Session::find(Id id) {
  for (auto& e : entries_)
    if (e.id == id) return &e;
  return nullptr;
}

const A1111Session::Entry* A1111Session::find(Id id) const {
  for (const auto& e : entries_)
    if (e.id == id) return &e;
  return nullptr;
}

A1111Session::Id A1111Session::begin(int iterations) {
  std::lock_guard<std::mutex> lock(mutex_);
  Entry e;
  e.id = next_++;
  e.s.iterations = iterations;
  e.s.started = std::chrono::steady_clock::now();
  e.s.timestamp = utc_timestamp();
  entries_.push_back(std::move(e));
  return entries_.back().id;
}

bool A1111Session::set_job(Id id, const std::string& job_id, int iteration) {
  std::lock_guard<std::mutex> lock(mutex_);
  Entry* e = find(id);
  if (!e) return false;
  e->s.job_id = job_id;
  e->s.iteration = iteration;
  e->s.step = e->s.total = 0;
  e->s.skipped = false;
  e->s.preview_png.clear();
  return e->s.interrupted;
}

void A1111Session::observe(Id id, const JobEvent& event) {
  if (event.type != JobEvent::Type::progress && event.type != JobEvent::Type::preview) return;
  std::lock_guard<std::mutex> lock(mutex_);
  Entry* e = find(id);
  if (!e || e->s.job_id != event.job_id) return;
  e->s.step = event.step;
  e->s.total = event.total;
  if (event.type == JobEvent::Type::preview && !event.images.empty()) e->s.preview_png = event.images.front().bytes;
}

bool A1111Session::interrupted(Id id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const Entry* e = find(id);
  return e && e->s.interrupted;
}

void A1111Session::end(Id id) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.remove_if([id](const Entry& e) { return e.id == id; });
}

std::optional<A1111Session::Snapshot> A1111Session::current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (entries_.empty()) return std::nullopt;
  return entries_.front().s;
}

std::optional<std::string> A1111Session::interrupt() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (entries_.empty()) return std::nullopt;
  Snapshot& s = entries_.front().s;
  s.interrupted = true;
  if (s.job_id.empty()) return std::nullopt;
  return s.job_id;
}

std::optional<std::string> A1111Session::skip() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (entries_.empty()) return std::nullopt;
  Snapshot& s = entries_.front().s;
  s.skipped = true;
  if (s.job_id.empty()) return std::nullopt;
  return s.job_id;
}

}  // namespace sdw::net
