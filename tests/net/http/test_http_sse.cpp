// net/ without a server, what a job's client reads: job ids (only job-<uuid> passes) and the
// accepted body, the job status JSON, SSE frames and event JSON as rbee's stream, and the stream
// pump (ids, one marker, keep-alives, Last-Event-ID, detach) over a scripted event stream.
#include <catch.hpp>

#include <deque>
#include <thread>

#include "model/image/image_io.h"
#include "net/http/operations.h"
#include "net/http/sse.h"

using namespace sdw;
using namespace sdw::net;
using nlohmann::json;

namespace {

// A scripted EventStream: events become readable at the given pump call.
class ScriptedStream : public EventStream {
 public:
  std::deque<JobEvent> events;
  bool detached = false;
  bool next(JobEvent& out, std::chrono::milliseconds timeout) override {
    if (events.empty()) {
      std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(5)));
      return false;
    }
    out = events.front();
    events.pop_front();
    if (out.terminal()) finished_ = true;
    return true;
  }
  bool finished() const override { return finished_ && events.empty(); }
  void detach() override { detached = true; }
  bool finished_ = false;
};

JobEvent event(JobEvent::Type type, int step = 0, int total = 0) {
  JobEvent e;
  e.type = type;
  e.job_id = "job-00000000-0000-4000-8000-000000000000";
  e.step = step;
  e.total = total;
  return e;
}

}  // namespace

TEST_CASE("job ids: only job-<uuid> passes", "[http][operations]") {
  CHECK(is_valid_job_id("job-0f8fad5b-d9cb-469f-a165-70867728950e"));
  CHECK(is_valid_job_id("job-0F8FAD5B-D9CB-469F-A165-70867728950E"));
  for (const std::string id : std::vector<std::string>{"", "job-", "..", "../..", "job-0f8fad5b-d9cb-469f-a165-70867728950", "job-0f8fad5b-d9cb-469f-a165-70867728950e0",
                               "job-0f8fad5b/d9cb-469f-a165-70867728950e", "job-0f8fad5bxd9cb-469f-a165-70867728950e",
                               std::string("job-0f8fad5b-d9cb-469f-a165-70867728950\0", 40), "JOB-0f8fad5b-d9cb-469f-a165-70867728950e"})
    CHECK_FALSE(is_valid_job_id(id));
  const json a = job_accepted_json("job-0f8fad5b-d9cb-469f-a165-70867728950e");
  CHECK(a["job_id"] == "job-0f8fad5b-d9cb-469f-a165-70867728950e");
  CHECK(a["sse_url"] == "/v1/jobs/job-0f8fad5b-d9cb-469f-a165-70867728950e/stream");
}

TEST_CASE("job status JSON", "[http][operations]") {
  JobStatus s;
  s.job_id = "job-x";
  s.state = JobState::running;
  s.step = 5;
  s.total = 20;
  json j = job_status_json(s);
  CHECK(j["state"] == "running");
  CHECK(j["percent"] == Approx(25.0));
  CHECK(j.count("result") == 0);
  s.state = JobState::completed;
  JobEvent done = event(JobEvent::Type::complete, 20, 20);
  done.images.push_back({"PNGBYTES", "png", 64, 64});
  s.result = done;
  j = job_status_json(s);
  CHECK(j["state"] == "completed");
  CHECK(j["result"]["type"] == "complete");
  CHECK(j["result"]["image"] == encode_base64("PNGBYTES"));
}

TEST_CASE("SSE frames and event JSON follow rbee's stream", "[http][sse]") {
  CHECK(sse_frame("progress", "{\"a\":1}") == "event: progress\ndata: {\"a\":1}\n\n");
  CHECK(sse_frame("", "[DONE]", 7) == "id: 7\ndata: [DONE]\n\n");
  CHECK(sse_frame("x", "a\nb\r\nc") == "event: x\ndata: a\ndata: b\ndata: c\n\n");

  const json p = event_json(event(JobEvent::Type::progress, 2, 20));
  CHECK(p["type"] == "progress");
  CHECK(p["step"] == 2);
  CHECK(p["total"] == 20);
  CHECK(p["percent"] == Approx(10.0));
  CHECK(sse_event_name(event(JobEvent::Type::progress)) == std::string("progress"));

  JobEvent preview = event(JobEvent::Type::preview, 4, 8);
  preview.images.push_back({"IMG", "png", 32, 32});
  const json pv = event_json(preview);
  CHECK(pv["type"] == "preview");
  CHECK(pv["image"] == encode_base64("IMG"));
  CHECK(pv["format"] == "png");
  CHECK(pv["percent"] == Approx(50.0));

  JobEvent done = event(JobEvent::Type::complete, 8, 8);
  done.images = {{"A", "jpeg", 64, 64}, {"B", "jpeg", 64, 64}};
  done.seed = 42;
  done.elapsed_ms = 1234;
  done.decode_ms = 20;
  done.image_encode_ms = 7.5;
  const json c = event_json(done);
  CHECK(c["type"] == "complete");
  CHECK(c["image"] == encode_base64("A"));
  CHECK(c["format"] == "jpeg");
  CHECK(c["seed"] == 42);
  CHECK(c["images"].size() == 2);
  CHECK(c["images"][1] == encode_base64("B"));
  CHECK(c["timings"]["total_ms"] == Approx(1234));
  CHECK(c["timings"]["decode_ms"] == Approx(20));
  CHECK(c["timings"]["image_encode_ms"] == Approx(7.5));
  done.images.pop_back();
  CHECK(event_json(done).count("images") == 0);

  JobEvent err = event(JobEvent::Type::error);
  err.message = "out of memory\nwhile decoding";
  CHECK(event_json(err)["message"] == "out of memory\nwhile decoding");
  CHECK(sse_event_name(err) == std::string("error"));
  CHECK(terminal_marker(err) == "[ERROR] out of memory while decoding");
  CHECK(terminal_marker(done) == "[DONE]");
  CHECK(terminal_marker(event(JobEvent::Type::cancelled)) == "[CANCELLED]");
  CHECK(sse_event_name(event(JobEvent::Type::cancelled)) == std::string("narration"));
  CHECK(sse_event_name(event(JobEvent::Type::queued)) == std::string("narration"));
  CHECK(event_json(event(JobEvent::Type::queued))["action"] == "job_queued");
}

TEST_CASE("SsePump: ids, one marker, keep-alives, Last-Event-ID, detach", "[http][sse]") {
  auto stream = std::make_shared<ScriptedStream>();
  stream->events = {event(JobEvent::Type::queued), event(JobEvent::Type::progress, 1, 2),
                    event(JobEvent::Type::progress, 2, 2), event(JobEvent::Type::complete, 2, 2)};
  SseOptions o;
  o.keepalive = std::chrono::milliseconds(1000);
  std::vector<JobEvent> seen;
  o.on_event = [&](const JobEvent& e) { seen.push_back(e); };
  std::string all, chunk;
  {
    SsePump pump(stream, o);
    while (pump.next_chunk(chunk)) all += chunk;
    all += chunk;
    CHECK(pump.done());
    CHECK_FALSE(pump.next_chunk(chunk));
    CHECK(chunk.empty());
  }
  CHECK_FALSE(stream->detached);  // read to the end: nothing to detach
  CHECK(seen.size() == 4);
  CHECK(all.find("id: 1\nevent: narration\n") == 0);
  CHECK(all.find("id: 2\nevent: progress\n") != std::string::npos);
  CHECK(all.find("id: 4\nevent: complete\n") != std::string::npos);
  CHECK(all.size() >= 20);
  CHECK(all.substr(all.size() - 20) == "id: 5\ndata: [DONE]\n\n");

  // Idle: keep-alive comments, then a reader that leaves detaches.
  auto idle = std::make_shared<ScriptedStream>();
  SseOptions fast;
  fast.keepalive = std::chrono::milliseconds(20);
  fast.poll = std::chrono::milliseconds(5);
  {
    SsePump pump(idle, fast);
    int keepalives = 0;
    for (int i = 0; i < 200 && keepalives < 2; ++i) {
      REQUIRE(pump.next_chunk(chunk));
      if (chunk == kKeepAliveFrame) ++keepalives;
      else CHECK(chunk.empty());
    }
    CHECK(keepalives == 2);
  }
  CHECK(idle->detached);

  // Last-Event-ID: events up to 2 are skipped, the rest and the marker arrive.
  auto resumed = std::make_shared<ScriptedStream>();
  resumed->events = {event(JobEvent::Type::queued), event(JobEvent::Type::progress, 1, 2), event(JobEvent::Type::progress, 2, 2),
                     event(JobEvent::Type::error)};
  resumed->events.back().message = "boom";
  SseOptions from2;
  from2.last_event_id = 2;
  SsePump pump(resumed, from2);
  all.clear();
  while (pump.next_chunk(chunk)) all += chunk;
  all += chunk;
  CHECK(all.find("id: 1\n") == std::string::npos);
  CHECK(all.find("id: 2\n") == std::string::npos);
  CHECK(all.find("id: 3\nevent: progress\n") == 0);
  CHECK(all.find("event: error\n") != std::string::npos);
  CHECK(all.find("data: [ERROR] boom\n\n") != std::string::npos);
}
