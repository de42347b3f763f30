// `sd-worker serve` end to end, a job's life over HTTP: the real binary on a loopback port with the
// demo model, driven by a real HTTP client. A job's SSE stream event by event, the same image as
// `sd-worker generate` for the same seed, previews and JPEG output, two readers of one stream,
// late readers, cancel mid-stream, keep-alives while queued, a reader that drops (the job still
// completes, or is cancelled when it asked for that), every validation and malformed-input case
// answered with the error shape while the worker keeps serving, and the metrics of the jobs above
// (that test counts the jobs of this file's earlier cases on the shared server: keep it last,
// here). Service routes, path tricks, CORS and auth: test_http_e2e_routes.cpp; a full queue,
// the rbee-hive spawn form, SIGTERM, a failed load and a failing job: test_http_e2e_lifecycle.cpp.
#include <catch.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <thread>

#include "e2e/http_e2e_checks.h"
#include "e2e/http_harness.h"
#include "model/image/image_io.h"
#include "test_util.h"

using namespace sdw;
using namespace sdw::test;
using namespace sdw::test::http_e2e;
using nlohmann::json;

namespace {

uint32_t crc32(const std::string& bytes) {
  uint32_t c = 0xffffffffu;
  for (unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

// A valid small PNG whose header claims width x height (IHDR patched, its CRC recomputed).
std::string png_claiming(const std::string& png, uint32_t width, uint32_t height) {
  std::string out = png;
  auto put32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) out[at + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
  };
  put32(16, width);
  put32(20, height);
  put32(29, crc32(out.substr(12, 17)));  // CRC over "IHDR" + 13 data bytes
  return out;
}

Image decode_event_image(const json& event) {
  REQUIRE(event.contains("image"));
  return decode_image_base64(event["image"].get<std::string>());
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int run_command(const std::string& cmd, std::string& output) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) output.append(buf.data(), n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("a job's SSE stream event by event; status, late readers, Last-Event-ID", "[http][e2e][sse]") {
  const int port = shared_server().port();
  const std::string id = submit(port, demo_job(4, 7));
  const SseStream s = read_sse(port, stream_path(id));
  check_stream_shape(s, "[DONE]");

  const auto progress = s.named("progress");
  REQUIRE(progress.size() == 4);
  for (int i = 0; i < 4; ++i) {
    const json p = progress[i].json();
    CHECK(p["job_id"] == id);
    CHECK(p["step"] == i + 1);
    CHECK(p["total"] == 4);
    CHECK(p["percent"].get<double>() == Approx(25.0 * (i + 1)));
  }
  const auto complete = s.named("complete");
  REQUIRE(complete.size() == 1);
  CHECK(s.events[s.events.size() - 2].event == "complete");  // then the marker
  const json c = complete[0].json();
  CHECK(c["job_id"] == id);
  CHECK(c["format"] == "png");
  CHECK(c["seed"] == 7);
  CHECK(c["width"] == 64);
  CHECK(c["height"] == 64);
  CHECK(c.count("images") == 0);  // one image
  CHECK(c["timings"]["total_ms"].get<double>() > 0);
  const Image img = decode_event_image(c);
  CHECK(img.width == 64);
  CHECK(img.height == 64);
  CHECK(s.named("error").empty());

  const HttpReply st = http_get(port, "/v1/jobs/" + id);
  REQUIRE(st.status == 200);
  CHECK(st.body["job_id"] == id);
  CHECK(st.body["state"] == "completed");
  CHECK(st.body["queue_position"] == 0);
  CHECK(st.body["result"]["image"] == c["image"]);

  // A reader arriving after the end gets the whole history, the same bytes, and the marker.
  const SseStream late = read_sse(port, stream_path(id));
  check_stream_shape(late, "[DONE]");
  REQUIRE(late.events.size() == s.events.size());
  for (size_t i = 0; i < s.events.size(); ++i) {
    CHECK(late.events[i].event == s.events[i].event);
    CHECK(late.events[i].data == s.events[i].data);
  }
  // EventSource reconnects send Last-Event-ID: the stream resumes after it.
  const SseStream resumed = read_sse(port, stream_path(id), {{"Last-Event-ID", "2"}});
  REQUIRE_FALSE(resumed.events.empty());
  CHECK(resumed.events.front().id == "3");
  CHECK(resumed.events.size() == s.events.size() - 2);
  CHECK(resumed.markers == s.markers);
  // A reconnect after the final marker (the stream's last id) is answered 204, the SSE standard's
  // "stop reconnecting"; one from just before it still gets the marker.
  const int marker_id = std::stoi(s.events.back().id);
  CHECK(marker_id == static_cast<int>(s.events.size()));
  const HttpReply done = http_get(port, stream_path(id), {{"Last-Event-ID", std::to_string(marker_id)}});
  CHECK(done.status == 204);
  CHECK(done.raw.empty());
  CHECK(http_get(port, stream_path(id), {{"Last-Event-ID", "999"}}).status == 204);
  const SseStream last = read_sse(port, stream_path(id), {{"Last-Event-ID", std::to_string(marker_id - 1)}});
  CHECK(last.status == 200);
  REQUIRE(last.events.size() == 1);
  CHECK(last.markers == s.markers);
}

TEST_CASE("the HTTP image equals `sd-worker generate` for the same seed", "[http][e2e][parity]") {
  const int port = shared_server().port();
  json job = demo_job(4, 1234);
  job["prompt"] = "a red bicycle";
  const SseStream s = read_sse(port, stream_path(submit(port, job)));
  check_stream_shape(s, "[DONE]");
  REQUIRE(s.named("complete").size() == 1);
  const Image http_image = decode_event_image(s.named("complete")[0].json());

  TempDir tmp;
  std::string output;
  const std::string cmd = quote(SDW_WORKER_BINARY) +
                          " generate --model demo --prompt 'a red bicycle' --width 64 --height 64 --steps 4"
                          " --guidance 7.5 --seed 1234 --output " + quote(tmp.file("cli.png"));
  REQUIRE(run_command(cmd, output) == 0);
  const Image cli_image = load_image(tmp.file("cli.png"));
  REQUIRE(cli_image.width == http_image.width);
  REQUIRE(cli_image.height == http_image.height);
  REQUIRE(cli_image.channels == http_image.channels);
  CHECK(cli_image.pixels == http_image.pixels);

  // Another seed gives another image (the comparison above is not vacuous).
  json other = job;
  other["seed"] = 1235;
  const SseStream s2 = read_sse(port, stream_path(submit(port, other)));
  REQUIRE(s2.named("complete").size() == 1);
  CHECK(decode_event_image(s2.named("complete")[0].json()).pixels != http_image.pixels);
}

TEST_CASE("previews, several images and JPEG output", "[http][e2e][sse]") {
  const int port = shared_server().port();
  json job = demo_job(4, 99);
  job["preview_every"] = 2;
  job["num_images"] = 2;
  job["output_format"] = "jpeg";
  const SseStream s = read_sse(port, stream_path(submit(port, job)));
  check_stream_shape(s, "[DONE]");
  const auto previews = s.named("preview");
  CHECK_FALSE(previews.empty());
  for (const auto& p : previews) {
    const json pj = p.json();
    CHECK(pj["step"].get<int>() % 2 == 0);
    CHECK(pj["total"] == 4);
    const Image img = decode_event_image(pj);
    CHECK(img.width > 0);
  }
  REQUIRE(s.named("complete").size() == 1);
  const json c = s.named("complete")[0].json();
  CHECK(c["format"] == "jpeg");
  REQUIRE(c["images"].size() == 2);
  CHECK(c["image"] == c["images"][0]);
  for (const auto& b64 : c["images"]) {
    const std::string bytes = decode_base64(b64.get<std::string>());
    CHECK(bytes.substr(0, 2) == "\xff\xd8");  // JPEG SOI
    const Image img = decode_image(bytes);
    CHECK(img.width == 64);
    CHECK(img.height == 64);
  }
}

TEST_CASE("two readers of one stream see the same events", "[http][e2e][sse]") {
  const int port = shared_server().port();
  const std::string id = submit(port, demo_job(12, 5));
  SseStream a, b;
  std::thread ta([&] { a = read_sse(port, stream_path(id)); });
  std::thread tb([&] { b = read_sse(port, stream_path(id)); });
  ta.join();
  tb.join();
  check_stream_shape(a, "[DONE]");
  check_stream_shape(b, "[DONE]");
  REQUIRE(a.events.size() == b.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) {
    CHECK(a.events[i].event == b.events[i].event);
    CHECK(a.events[i].data == b.events[i].data);
  }
  CHECK(a.named("progress").size() == 12);
}

TEST_CASE("cancel mid-stream; 404 and 409 on DELETE", "[http][e2e][cancel]") {
  const int port = shared_server().port();
  const std::string id = submit(port, demo_job(150, 3));
  HttpReply cancel;
  bool sent = false;
  const SseStream s = read_sse(port, stream_path(id), {}, [&](const SseEvent& e) {
    if (e.event == "progress" && !sent) {
      sent = true;
      cancel = http_delete(port, "/v1/jobs/" + id);
    }
    return true;
  });
  REQUIRE(sent);
  CHECK(cancel.status == 200);
  CHECK(cancel.body == json({{"job_id", id}, {"status", "cancelled"}}));
  check_stream_shape(s, "[CANCELLED]");
  CHECK(s.named("progress").size() < 150);
  CHECK(s.named("complete").empty());

  const HttpReply st = http_get(port, "/v1/jobs/" + id);
  CHECK(st.body["state"] == "cancelled");
  CHECK(st.body.count("result") == 0);
  check_error(http_delete(port, "/v1/jobs/" + id), 409, "JOB_ALREADY_FINISHED");
  check_error(http_delete(port, "/v1/jobs/job-00000000-0000-4000-8000-000000000000"), 404, "JOB_NOT_FOUND");

  const std::string done = submit(port, demo_job(2, 4));
  REQUIRE(wait_for_state(port, done, "completed") == "completed");
  check_error(http_delete(port, "/v1/jobs/" + done), 409, "JOB_ALREADY_FINISHED");
}

TEST_CASE("keep-alive comments while a job waits in the queue", "[http][e2e][sse]") {
  const int port = shared_server().port();
  const std::string blocker = submit(port, demo_job(150, 1));
  const std::string waiting = submit(port, demo_job(2, 2));
  const HttpReply st = http_get(port, "/v1/jobs/" + waiting);
  CHECK(st.body["state"] == "queued");
  CHECK(st.body["queue_position"] == 1);
  bool released = false;
  int seen = 0;
  const SseStream s = read_sse(port, stream_path(waiting), {}, [&](const SseEvent& e) {
    // Two keep-alives (200 ms apart) while queued, then let it run by cancelling the blocker.
    if (e.event == ":" && !released && e.data.find("keep-alive") != std::string::npos) {
      if (++seen == 2) {
        released = true;
        CHECK(http_delete(port, "/v1/jobs/" + blocker).status == 200);
      }
    }
    return true;
  });
  check_stream_shape(s, "[DONE]");
  CHECK(s.keepalives_before_progress >= 2);
  CHECK(s.named("progress").size() == 2);
}

TEST_CASE("a reader that drops mid-stream: the job completes, or cancels if it asked to", "[http][e2e][disconnect]") {
  const int port = shared_server().port();
  const std::string id = submit(port, demo_job(40, 11));
  const SseStream s = read_sse(port, stream_path(id), {}, [](const SseEvent& e) { return e.event != "progress"; });
  CHECK(s.dropped);
  CHECK(wait_for_state(port, id, "completed") == "completed");

  json job = demo_job(150, 12);
  job["cancel_on_disconnect"] = true;
  const std::string id2 = submit(port, job);
  const SseStream s2 = read_sse(port, stream_path(id2), {}, [](const SseEvent& e) { return e.event != "progress"; });
  CHECK(s2.dropped);
  CHECK(wait_for_state(port, id2, "cancelled") == "cancelled");
  const HttpReply st = http_get(port, "/v1/jobs/" + id2);
  CHECK_THAT(st.body.value("error", ""), Catch::Contains("disconnect"));
  check_still_serving(port);
}

TEST_CASE("every validation rule and malformed input: 4xx with the error shape, worker keeps serving",
          "[http][e2e][validation]") {
  const int port = shared_server().port();
  auto png = [](int w, int h, int channels) {
    Image img;
    img.width = w;
    img.height = h;
    img.channels = channels;
    img.pixels.assign(static_cast<size_t>(w) * h * channels, 200);
    return encode_png(img);
  };
  const std::string png64 = encode_base64(png(64, 64, 3));
  auto with = [](json body, const json& patch) {
    for (auto it = patch.begin(); it != patch.end(); ++it) {
      if (it.value().is_null()) body.erase(it.key());
      else body[it.key()] = it.value();
    }
    return body.dump();
  };
  json transform = demo_job(4, 1);
  transform["operation"] = "image_transform";
  transform.erase("width");
  transform.erase("height");
  transform["input_image"] = png64;
  json inpaint = transform;
  inpaint["operation"] = "image_inpaint";
  inpaint.erase("input_image");
  inpaint["init_image"] = png64;
  inpaint["mask_image"] = encode_base64(png(64, 64, 1));

  struct Case {
    std::string what, body, content_type;
    int status;
    std::string code, names;  // names: text the message must contain ("" = any)
  };
  const std::string big(3u << 20, 'x');
  const std::vector<Case> cases = {
      {"broken JSON", "{\"operation\":", "application/json", 400, "INVALID_JSON", ""},
      {"empty body", "", "application/json", 400, "INVALID_JSON", ""},
      {"JSON array", "[1,2]", "application/json", 400, "INVALID_JSON", "object"},
      {"deep nesting", std::string(200000, '['), "application/json", 400, "INVALID_JSON", ""},
      {"invalid UTF-8", "{\"prompt\":\"\xc3\x28\"}", "application/json", 400, "INVALID_JSON", ""},
      {"huge body", "{\"prompt\":\"" + big + "\"}", "application/json", 413, "BODY_TOO_LARGE", ""},
      {"text/plain", demo_job().dump(), "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE", "application/json"},
      {"form", "a=b", "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE", ""},
      {"unknown operation", with(demo_job(), {{"operation", "image_upscale"}}), "application/json", 400, "UNKNOWN_OPERATION", "image_inpaint"},
      {"unknown model", with(demo_job(), {{"model", "sdxl-base"}}), "application/json", 400, "MODEL_NOT_FOUND", "demo"},
      {"missing hive_id", with(demo_job(), {{"hive_id", nullptr}}), "application/json", 400, "MISSING_FIELD", "hive_id"},
      {"missing prompt", with(demo_job(), {{"prompt", nullptr}}), "application/json", 400, "MISSING_FIELD", "prompt"},
      {"empty prompt", with(demo_job(), {{"prompt", ""}}), "application/json", 400, "INVALID_FIELD", "prompt"},
      {"prompt too long", with(demo_job(), {{"prompt", std::string(20000, 'a')}}), "application/json", 400, "INVALID_FIELD", "prompt"},
      {"prompt number", with(demo_job(), {{"prompt", 3}}), "application/json", 400, "INVALID_FIELD", "prompt"},
      {"steps string", with(demo_job(), {{"steps", "4"}}), "application/json", 400, "INVALID_FIELD", "steps"},
      {"steps 0", with(demo_job(), {{"steps", 0}}), "application/json", 400, "INVALID_FIELD", "steps"},
      {"steps 151", with(demo_job(), {{"steps", 151}}), "application/json", 400, "INVALID_FIELD", "steps"},
      {"steps float", with(demo_job(), {{"steps", 4.5}}), "application/json", 400, "INVALID_FIELD", "steps"},
      {"guidance 31", with(demo_job(), {{"guidance_scale", 31}}), "application/json", 400, "INVALID_FIELD", "guidance_scale"},
      {"guidance -1", with(demo_job(), {{"guidance_scale", -1}}), "application/json", 400, "INVALID_FIELD", "guidance_scale"},
      {"width 65", with(demo_job(), {{"width", 65}}), "application/json", 400, "INVALID_FIELD", "width"},
      {"width 56 < min", with(demo_job(), {{"width", 56}}), "application/json", 400, "INVALID_FIELD", "width"},
      {"height 4096", with(demo_job(), {{"height", 4096}}), "application/json", 400, "INVALID_FIELD", "height"},
      {"height bool", with(demo_job(), {{"height", true}}), "application/json", 400, "INVALID_FIELD", "height"},
      {"seed -1", with(demo_job(), {{"seed", -1}}), "application/json", 400, "INVALID_FIELD", "seed"},
      {"seed 1.5", with(demo_job(), {{"seed", 1.5}}), "application/json", 400, "INVALID_FIELD", "seed"},
      {"seed 2^64", "{\"operation\":\"image_generation\",\"hive_id\":\"h\",\"model\":\"demo\",\"prompt\":\"p\",\"seed\":18446744073709551616}",
       "application/json", 400, "INVALID_FIELD", "seed"},
      {"num_images 9", with(demo_job(), {{"num_images", 9}}), "application/json", 400, "INVALID_FIELD", "num_images"},
      {"scheduler", with(demo_job(), {{"scheduler", "warp"}}), "application/json", 400, "INVALID_FIELD", "scheduler"},
      {"output_format", with(demo_job(), {{"output_format", "webp"}}), "application/json", 400, "INVALID_FIELD", "output_format"},
      {"loras", with(demo_job(), {{"loras", json::array({{{"path", "x.safetensors"}, {"strength", 1}}})}}), "application/json", 400,
       "LORA_NOT_FOUND", "no LoRA folders"},
      {"loras type", with(demo_job(), {{"loras", json::object()}}), "application/json", 400, "INVALID_FIELD", "loras"},
      {"transform without image", with(transform, {{"input_image", nullptr}}), "application/json", 400, "MISSING_FIELD", "input_image"},
      {"bad base64", with(transform, {{"input_image", "!!!not base64!!!"}}), "application/json", 400, "INVALID_IMAGE", "input_image"},
      {"not an image", with(transform, {{"input_image", encode_base64("hello, world")}}), "application/json", 400, "INVALID_IMAGE", "input_image"},
      {"truncated PNG", with(transform, {{"input_image", encode_base64(png(64, 64, 3).substr(0, 60))}}), "application/json", 400,
       "INVALID_IMAGE", "input_image"},
      {"strength 2", with(transform, {{"strength", 2}}), "application/json", 400, "INVALID_FIELD", "strength"},
      {"strength 0", with(transform, {{"strength", 0}}), "application/json", 400, "INVALID_FIELD", "strength"},
      {"image too small", with(transform, {{"input_image", encode_base64(png(32, 32, 3))}}), "application/json", 400, "INVALID_FIELD", "input_image"},
      {"image over the pixel limit", with(transform, {{"input_image", encode_base64(png_claiming(png(64, 64, 1), 5000, 5000))}}),
       "application/json", 400, "INVALID_IMAGE", "exceeds the limit"},
      {"inpaint without mask", with(inpaint, {{"mask_image", nullptr}}), "application/json", 400, "MISSING_FIELD", "mask_image"},
      {"mask size", with(inpaint, {{"mask_image", encode_base64(png(64, 72, 1))}}), "application/json", 400, "INVALID_FIELD", "same size"},
      {"bad mask", with(inpaint, {{"mask_image", "@@@"}}), "application/json", 400, "INVALID_IMAGE", "mask_image"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    const HttpReply r = http_post(port, "/v1/jobs", c.body, c.content_type);
    check_error(r, c.status, c.code);
    if (!c.names.empty() && r.body.is_object()) CHECK_THAT(r.body["error"]["message"].get<std::string>(), Catch::Contains(c.names));
  }
  // No Content-Type at all.
  {
    httplib::Client cli("127.0.0.1", port);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/jobs";
    req.body = demo_job().dump();
    httplib::Result res = cli.send(req);
    REQUIRE(res);
    CHECK(res->status == 415);
  }
  check_still_serving(port);
  // The valid transform and inpaint bodies of the cases above do run.
  check_stream_shape(read_sse(port, stream_path(submit(port, transform))), "[DONE]");
  check_stream_shape(read_sse(port, stream_path(submit(port, inpaint))), "[DONE]");
}

TEST_CASE("metrics count the jobs and latencies above", "[http][e2e][metrics]") {
  const int port = shared_server().port();
  const std::string text = http_get(port, "/metrics").raw;
  auto value = [&](const std::string& series) {
    const auto pos = text.find("\n" + series + " ");
    if (pos == std::string::npos) return -1.0;
    return std::stod(text.substr(pos + series.size() + 2));
  };
  INFO(text);
  CHECK(value("sdw_jobs_finished_total{state=\"completed\"}") >= 8);
  CHECK(value("sdw_jobs_finished_total{state=\"cancelled\"}") >= 2);
  CHECK(value("sdw_jobs_submitted_total{operation=\"image_generation\"}") >= 10);
  CHECK(value("sdw_jobs_submitted_total{operation=\"image_transform\"}") >= 1);
  CHECK(value("sdw_jobs_rejected_total{code=\"INVALID_FIELD\"}") >= 10);
  CHECK(value("sdw_step_duration_seconds_count") >= 20);
  CHECK(value("sdw_job_duration_seconds_count") >= 8);
  CHECK(value("sdw_http_requests_total{route=\"submit_job\",status=\"200\"}") >= 10);
  CHECK(value("sdw_queue_depth") == 0);
  CHECK(value("process_resident_memory_bytes") > 1e6);
}
