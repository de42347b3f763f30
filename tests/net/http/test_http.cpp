// net/ without a server: the error shape and status table, request validation and the rbee
// Operation mapping (every rule names its field), job ids, SSE rendering and the stream pump,
// request ids, bearer auth, CORS and the Prometheus exposition. The end-to-end behaviour over
// real HTTP against the real binary is in test_http_e2e.cpp.
#include <catch.hpp>

#include <deque>
#include <thread>

#include "model/image/image_io.h"
#include "net/http/errors.h"
#include "net/http/job_handlers.h"
#include "net/http/metrics.h"
#include "net/http/middleware.h"
#include "net/http/operations.h"
#include "net/http/sse.h"
#include "net/http/validation.h"

using namespace sdw;
using namespace sdw::net;
using nlohmann::json;

namespace {

ParseOptions options() {
  ParseOptions o;
  o.model.name = "demo";
  o.model.aliases = {"tiny"};
  return o;
}

json base(const std::string& op = "image_generation") {
  return {{"operation", op}, {"hive_id", "hive-1"}, {"model", "demo"}, {"prompt", "a red fox"}};
}

// The ApiError a body gives (fails the test if it parses).
ApiError rejection(const json& body, const ParseOptions& o = options()) {
  try {
    parse_job_request(body, o);
  } catch (const ApiError& e) {
    return e;
  }
  FAIL("accepted: " << body.dump());
  throw std::logic_error("unreachable");
}

std::string png_base64(int w, int h, int channels = 3) {
  Image img;
  img.width = w;
  img.height = h;
  img.channels = channels;
  img.pixels.assign(static_cast<size_t>(w) * h * channels, 128);
  return encode_base64(encode_png(img));
}

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

TEST_CASE("error types map to one fixed status table and one body shape", "[http][errors]") {
  CHECK(http_status(ErrorType::invalid_request) == 400);
  CHECK(http_status(ErrorType::authentication) == 401);
  CHECK(http_status(ErrorType::not_found) == 404);
  CHECK(http_status(ErrorType::conflict) == 409);
  CHECK(http_status(ErrorType::payload_too_large) == 413);
  CHECK(http_status(ErrorType::unsupported_media_type) == 415);
  CHECK(http_status(ErrorType::rate_limit) == 429);
  CHECK(http_status(ErrorType::internal) == 500);
  CHECK(http_status(ErrorType::unavailable) == 503);

  const ApiError e = invalid_field("steps", "steps must be ...");
  const json j = error_json(e, "req-1");
  CHECK(j["error"]["code"] == "INVALID_FIELD");
  CHECK(j["error"]["type"] == "invalid_request_error");
  CHECK(j["error"]["message"] == "steps must be ...");
  CHECK(j["error"]["param"] == "steps");
  CHECK(j["error"]["request_id"] == "req-1");
  CHECK(error_json(e, "")["error"].count("request_id") == 0);

  CHECK(from_worker_error(WorkerError(WorkerErrc::queue_full, "full")).status() == 429);
  CHECK(from_worker_error(WorkerError(WorkerErrc::queue_full, "full")).code() == "QUEUE_FULL");
  CHECK(from_worker_error(WorkerError(WorkerErrc::not_found, "x")).status() == 404);
  CHECK(from_worker_error(WorkerError(WorkerErrc::already_finished, "x")).status() == 409);
  CHECK(from_worker_error(WorkerError(WorkerErrc::not_ready, "x")).status() == 503);
  CHECK(from_worker_error(WorkerError(WorkerErrc::shutting_down, "x")).status() == 503);
  CHECK(from_worker_error(WorkerError(WorkerErrc::invalid_request, "x")).status() == 400);
  CHECK(from_worker_error(WorkerError(WorkerErrc::model_not_found, "x")).code() == "MODEL_NOT_FOUND");
  CHECK(from_worker_error(WorkerError(WorkerErrc::internal, "x")).status() == 500);
  CHECK(from_library_status(413).code() == "BODY_TOO_LARGE");
  CHECK(from_library_status(413).status() == 413);
  CHECK(from_library_status(414).status() == 414);
  CHECK(from_library_status(400).status() == 400);

  // Invalid UTF-8 never makes the error body throw.
  CHECK_NOTHROW(dump_json(error_json(job_not_found(std::string("job-\xff\xfe")), "r")));
}

TEST_CASE("image_generation: rbee's defaults and field names", "[http][operations]") {
  const JobRequest job = parse_job_request(base(), options());
  CHECK(job.operation == "image_generation");
  CHECK(job.hive_id == "hive-1");
  CHECK(job.model == "demo");
  const GenerationRequest& r = job.submission.request;
  CHECK(r.mode == GenerationMode::txt2img);
  CHECK(r.prompt == "a red fox");
  CHECK_FALSE(r.negative_prompt.has_value());
  CHECK(r.steps == 20);
  CHECK(r.guidance.value() == Approx(7.5));
  CHECK_FALSE(r.seed.has_value());
  CHECK(r.width == 512);
  CHECK(r.height == 512);
  CHECK(r.num_images == 1);
  CHECK(job.submission.output.format == "png");
  CHECK(job.submission.preview_every == 0);
  CHECK_FALSE(job.submission.cancel_on_disconnect);

  json full = base();
  full.update({{"negative_prompt", "blurry"}, {"steps", 4}, {"guidance_scale", 3}, {"seed", 18446744073709551615ull},
               {"width", 264}, {"height", 1024}, {"loras", json::array()}, {"worker_id", "worker-cpu-9000"},
               {"scheduler", "Euler a"}, {"num_images", 2}, {"clip_skip", 2}, {"output_format", "JPG"},
               {"preview_every", 2}, {"cancel_on_disconnect", true}, {"jpeg_quality", 80}, {"eta", 0.5}, {"unknown_field", 1}});
  const JobRequest j2 = parse_job_request(full, options());
  CHECK(j2.worker_id == "worker-cpu-9000");
  CHECK(j2.submission.request.negative_prompt.value() == "blurry");
  CHECK(j2.submission.request.steps == 4);
  CHECK(j2.submission.request.guidance.value() == Approx(3.0));
  CHECK(j2.submission.request.seed.value() == 18446744073709551615ull);
  CHECK(j2.submission.request.width == 264);
  CHECK(j2.submission.request.height == 1024);
  CHECK(j2.submission.request.scheduler == "euler_a");
  CHECK(j2.submission.request.num_images == 2);
  CHECK(j2.submission.request.clip_skip == 2);
  CHECK(j2.submission.request.eta == Approx(0.5));
  CHECK(job.submission.request.eta == 0.0);
  CHECK(j2.submission.output.format == "jpeg");
  CHECK(j2.submission.output.jpeg_quality == 80);
  CHECK(j2.submission.preview_every == 2);
  CHECK(j2.submission.cancel_on_disconnect);

  json alias = base();
  alias["model"] = "tiny";
  CHECK(parse_job_request(alias, options()).model == "tiny");
  json seed_text = base();
  seed_text["seed"] = "12345678901234567890";
  CHECK(parse_job_request(seed_text, options()).submission.request.seed.value() == 12345678901234567890ull);
  json seed_null = base();
  seed_null["seed"] = nullptr;
  CHECK_FALSE(parse_job_request(seed_null, options()).submission.request.seed.has_value());
}

TEST_CASE("every validation rule answers 400 naming the field", "[http][validation]") {
  struct Case {
    const char* what;
    json patch;         // merged into the base body (null value: erase the key)
    const char* code;
    const char* field;  // must appear in the message
  };
  const std::vector<Case> cases = {
      {"missing prompt", {{"prompt", nullptr}}, "MISSING_FIELD", "prompt"},
      {"empty prompt", {{"prompt", ""}}, "INVALID_FIELD", "prompt"},
      {"blank prompt", {{"prompt", "  \n\t"}}, "INVALID_FIELD", "prompt"},
      {"huge prompt", {{"prompt", std::string(10001, 'a')}}, "INVALID_FIELD", "prompt"},
      {"prompt wrong type", {{"prompt", 5}}, "INVALID_FIELD", "prompt"},
      {"negative_prompt wrong type", {{"negative_prompt", json::array()}}, "INVALID_FIELD", "negative_prompt"},
      {"missing hive_id", {{"hive_id", nullptr}}, "MISSING_FIELD", "hive_id"},
      {"missing model", {{"model", nullptr}}, "MISSING_FIELD", "model"},
      {"unknown model", {{"model", "sdxl"}}, "MODEL_NOT_FOUND", "demo"},
      {"steps 0", {{"steps", 0}}, "INVALID_FIELD", "steps"},
      {"steps 151", {{"steps", 151}}, "INVALID_FIELD", "steps"},
      {"steps negative", {{"steps", -1}}, "INVALID_FIELD", "steps"},
      {"steps float", {{"steps", 20.5}}, "INVALID_FIELD", "steps"},
      {"steps 20.0", {{"steps", 20.0}}, "INVALID_FIELD", "steps"},
      {"steps string", {{"steps", "20"}}, "INVALID_FIELD", "steps"},
      {"steps huge", {{"steps", 1e30}}, "INVALID_FIELD", "steps"},
      {"steps u64", {{"steps", 18446744073709551615ull}}, "INVALID_FIELD", "steps"},
      {"guidance negative", {{"guidance_scale", -0.5}}, "INVALID_FIELD", "guidance_scale"},
      {"guidance 31", {{"guidance_scale", 31}}, "INVALID_FIELD", "guidance_scale"},
      {"guidance string", {{"guidance_scale", "7"}}, "INVALID_FIELD", "guidance_scale"},
      {"seed negative", {{"seed", -1}}, "INVALID_FIELD", "seed"},
      {"seed float", {{"seed", 1.5}}, "INVALID_FIELD", "seed"},
      {"seed overflow text", {{"seed", "18446744073709551616"}}, "INVALID_FIELD", "seed"},
      {"seed not digits", {{"seed", "12a"}}, "INVALID_FIELD", "seed"},
      {"seed bool", {{"seed", true}}, "INVALID_FIELD", "seed"},
      {"width not multiple of 8", {{"width", 260}}, "INVALID_FIELD", "width"},
      {"width too small", {{"width", 248}}, "INVALID_FIELD", "width"},
      {"height too big", {{"height", 2056}}, "INVALID_FIELD", "height"},
      {"height string", {{"height", "512"}}, "INVALID_FIELD", "height"},
      {"loras not array", {{"loras", "x"}}, "INVALID_FIELD", "loras"},
      {"lora without path", {{"loras", json::array({json::object()})}}, "MISSING_FIELD", "loras[0].path"},
      {"lora strength", {{"loras", json::array({{{"path", "a.safetensors"}, {"strength", 11}}})}}, "INVALID_FIELD", "loras[0].strength"},
      {"lora given", {{"loras", json::array({{{"path", "a.safetensors"}, {"strength", 1.0}}})}}, "LORA_NOT_FOUND", "no LoRA folders"},
      {"num_images 0", {{"num_images", 0}}, "INVALID_FIELD", "num_images"},
      {"num_images 9", {{"num_images", 9}}, "INVALID_FIELD", "num_images"},
      {"clip_skip 0", {{"clip_skip", 0}}, "INVALID_FIELD", "clip_skip"},
      {"eta 2", {{"eta", 2}}, "INVALID_FIELD", "eta"},
      {"eta string", {{"eta", "x"}}, "INVALID_FIELD", "eta"},
      {"scheduler unknown", {{"scheduler", "warp_drive"}}, "INVALID_FIELD", "scheduler"},
      {"scheduler wrong type", {{"scheduler", 3}}, "INVALID_FIELD", "scheduler"},
      {"output_format gif", {{"output_format", "gif"}}, "INVALID_FIELD", "output_format"},
      {"preview_every negative", {{"preview_every", -2}}, "INVALID_FIELD", "preview_every"},
      {"cancel_on_disconnect string", {{"cancel_on_disconnect", "yes"}}, "INVALID_FIELD", "cancel_on_disconnect"},
      {"worker_id wrong type", {{"worker_id", 7}}, "INVALID_FIELD", "worker_id"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    json body = base();
    for (auto it = c.patch.begin(); it != c.patch.end(); ++it) {
      if (it.value().is_null()) body.erase(it.key());
      else body[it.key()] = it.value();
    }
    const ApiError e = rejection(body);
    CHECK(e.status() == 400);
    CHECK(e.code() == c.code);
    CHECK_THAT(std::string(e.what()), Catch::Contains(c.field));
  }
}

TEST_CASE("operation, body shape and JSON syntax errors", "[http][validation]") {
  ApiError e = rejection(json{{"hive_id", "h"}});
  CHECK(e.code() == "MISSING_FIELD");
  CHECK_THAT(std::string(e.what()), Catch::Contains("operation"));
  json op = base("image_upscale");
  e = rejection(op);
  CHECK(e.code() == "UNKNOWN_OPERATION");
  for (const char* name : {"image_generation", "image_transform", "image_inpaint"})
    CHECK_THAT(std::string(e.what()), Catch::Contains(name));
  op["operation"] = 3;
  CHECK(rejection(op).code() == "UNKNOWN_OPERATION");
  CHECK(rejection(json::array()).code() == "INVALID_JSON");
  // Numbers parsed from text are unsigned when non-negative: the lower bound still applies.
  for (const char* text : {"{\"steps\":0}", "{\"num_images\":0}", "{\"clip_skip\":0}"}) {
    json parsed = base();
    parsed.update(json::parse(text));
    CHECK(rejection(parsed).code() == "INVALID_FIELD");
  }
  CHECK(rejection(json("text")).code() == "INVALID_JSON");

  for (const std::string body : std::vector<std::string>{std::string(""), std::string("{"), std::string("{\"operation\":}"), std::string("nul"),
                                 std::string("{\"prompt\":\"\xff\"}"), std::string(100000, '[')}) {
    try {
      parse_job_request(body, options());
      FAIL("accepted " << body.substr(0, 20));
    } catch (const ApiError& err) {
      CHECK(err.status() == 400);
      CHECK(err.code() == "INVALID_JSON");
    }
  }
}

TEST_CASE("numbers that overflow a double are 400 naming their field; nesting is bounded", "[http][validation]") {
  const std::string head = R"({"operation":"image_generation","hive_id":"h","model":"demo","prompt":"a",)";
  for (const std::string field : {"steps", "guidance_scale", "seed", "width", "num_images", "jpeg_quality", "eta"}) {
    for (const char* value : {"1e400", "-1e400"}) {
      INFO(field << " = " << value);
      try {
        parse_job_request(head + "\"" + field + "\":" + value + "}", options());
        FAIL("accepted");
      } catch (const ApiError& err) {
        CHECK(err.status() == 400);
        CHECK(err.code() == "INVALID_FIELD");
        CHECK(err.param() == field);
        CHECK_THAT(std::string(err.what()), Catch::Contains(field) && Catch::Contains("out of range"));
      }
    }
  }
  // 64 levels are JSON like any other (the unknown field is ignored); 65 are refused while read.
  auto nested = [&](int depth) { return head + "\"extra\":" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}"; };
  CHECK(parse_job_request(nested(64), options()).submission.request.prompt == "a");
  try {
    parse_job_request(nested(65), options());
    FAIL("accepted 65 levels");
  } catch (const ApiError& err) {
    CHECK(err.code() == "INVALID_JSON");
    CHECK_THAT(std::string(err.what()), Catch::Contains("deeper than 64"));
  }
}

TEST_CASE("a NUL character in a prompt is refused naming the field", "[http][validation]") {
  for (const char* field : {"prompt", "negative_prompt"}) {
    json body = base();
    body[field] = std::string("a red\0fox", 9);
    try {
      parse_job_request(body.dump(), options());
      FAIL("accepted a NUL in " << field);
    } catch (const ApiError& err) {
      CHECK(err.code() == "INVALID_FIELD");
      CHECK(err.param() == field);
      CHECK_THAT(std::string(err.what()), Catch::Contains("NUL"));
    }
  }
}

TEST_CASE("image_transform and image_inpaint: images, strength and sizes", "[http][validation]") {
  json t = base("image_transform");
  t["input_image"] = png_base64(320, 264);
  JobRequest job = parse_job_request(t, options());
  CHECK(job.submission.request.mode == GenerationMode::img2img);
  CHECK(!job.submission.request.strength);  // absent: the model's default, decided by the pipeline
  t["strength"] = 0.5;
  CHECK(parse_job_request(t, options()).submission.request.strength == 0.5);
  t.erase("strength");
  CHECK(job.submission.request.init_image.width == 320);
  CHECK(job.submission.request.width == 0);  // the image's size, decided by the pipeline

  t["input_image"] = "data:image/png;base64," + png_base64(320, 264);
  CHECK_NOTHROW(parse_job_request(t, options()));

  auto rejected = [&](json body, const std::string& code, const std::string& field) {
    const ApiError e = rejection(body);
    CHECK(e.status() == 400);
    CHECK(e.code() == code);
    CHECK_THAT(std::string(e.what()), Catch::Contains(field));
  };
  json missing = base("image_transform");
  rejected(missing, "MISSING_FIELD", "input_image");
  json bad = t;
  bad["input_image"] = "not base64!!";
  rejected(bad, "INVALID_IMAGE", "input_image");
  bad["input_image"] = encode_base64("GIF89a but not really");
  rejected(bad, "INVALID_IMAGE", "input_image");
  const std::string png = decode_base64(png_base64(320, 264));
  bad["input_image"] = encode_base64(png.substr(0, png.size() / 2));  // truncated PNG
  rejected(bad, "INVALID_IMAGE", "input_image");
  bad["input_image"] = "";
  rejected(bad, "INVALID_FIELD", "input_image");
  bad["input_image"] = 42;
  rejected(bad, "INVALID_FIELD", "input_image");
  bad["input_image"] = png_base64(64, 64);  // output would be 64x64 < 256
  rejected(bad, "INVALID_FIELD", "input_image");
  json small_limit = t;
  ParseOptions tight = options();  // the pixel limit is checked from the header, before decoding
  tight.limits.max_input_pixels = 1000;
  CHECK(rejection(small_limit, tight).code() == "INVALID_IMAGE");
  json strength = t;
  strength["strength"] = 1.5;
  rejected(strength, "INVALID_FIELD", "strength");
  strength["strength"] = 0;
  rejected(strength, "INVALID_FIELD", "strength");
  strength["strength"] = 0.01;  // 20 steps * 0.01 < 1 step
  rejected(strength, "INVALID_FIELD", "strength");
  strength["strength"] = "0.5";
  rejected(strength, "INVALID_FIELD", "strength");
  json resized = t;
  resized["input_image"] = png_base64(64, 64);
  resized["width"] = 256;
  resized["height"] = 256;
  CHECK(parse_job_request(resized, options()).submission.request.width == 256);

  json inpaint = base("image_inpaint");
  inpaint["init_image"] = png_base64(256, 256);
  inpaint["mask_image"] = png_base64(256, 256, 1);
  job = parse_job_request(inpaint, options());
  CHECK(job.submission.request.mode == GenerationMode::inpaint);
  CHECK(job.submission.request.mask_image.width == 256);
  json no_mask = inpaint;
  no_mask.erase("mask_image");
  rejected(no_mask, "MISSING_FIELD", "mask_image");
  json other_size = inpaint;
  other_size["mask_image"] = png_base64(256, 264, 1);
  rejected(other_size, "INVALID_FIELD", "mask_image");
  json bad_mask = inpaint;
  bad_mask["mask_image"] = "%%%";
  rejected(bad_mask, "INVALID_IMAGE", "mask_image");
  // inpaint_fill: where the masked area starts (default original).
  CHECK(job.submission.request.inpaint_fill == InpaintFill::original);
  json fill = inpaint;
  fill["inpaint_fill"] = "latent_noise";
  CHECK(parse_job_request(fill, options()).submission.request.inpaint_fill == InpaintFill::latent_noise);
  fill["inpaint_fill"] = "latent noise";
  rejected(fill, "INVALID_FIELD", "inpaint_fill");
  fill["inpaint_fill"] = 2;
  rejected(fill, "INVALID_FIELD", "inpaint_fill");
  json fill_img2img = t;
  fill_img2img["inpaint_fill"] = "fill";
  rejected(fill_img2img, "INVALID_FIELD", "inpaint_fill");
}

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

TEST_CASE("request ids are echoed when sane, made otherwise", "[http][middleware]") {
  CHECK(request_id_from_header("abc-123_x.y:z") == "abc-123_x.y:z");
  for (const std::string bad : std::vector<std::string>{std::string(""), std::string(129, 'a'), std::string("a b"), std::string("a\nb"), std::string("<script>")}) {
    const std::string id = request_id_from_header(bad);
    CHECK(id.rfind("req-", 0) == 0);
    CHECK(id.size() == 20);
  }
  CHECK(new_request_id() != new_request_id());
}

TEST_CASE("ambiguous framing: differing Content-Lengths, Transfer-Encoding with Content-Length", "[http][middleware]") {
  CHECK_FALSE(check_framing({}, false));
  CHECK_FALSE(check_framing({"12"}, false));
  CHECK_FALSE(check_framing({"12", "12"}, false));  // repeated, equal: one length
  CHECK_FALSE(check_framing({}, true));              // chunked alone
  for (const auto& [lengths, te] : std::vector<std::pair<std::vector<std::string>, bool>>{
           {{"12", "13"}, false}, {{"12", "012"}, false}, {{"5"}, true}, {{"5", "5"}, true}}) {
    const auto err = check_framing(lengths, te);
    REQUIRE(err);
    CHECK(err->status() == 400);
    CHECK(err->code() == "BAD_FRAMING");
  }
}

TEST_CASE("bearer auth: rbee's codes, constant-time compare", "[http][middleware]") {
  CHECK(constant_time_equals("secret", "secret"));
  CHECK_FALSE(constant_time_equals("secret", "secreT"));
  CHECK_FALSE(constant_time_equals("secret", "secret1"));
  CHECK_FALSE(constant_time_equals("", "secret"));
  CHECK_FALSE(constant_time_equals("secret", ""));
  CHECK(constant_time_equals("", ""));

  CHECK_FALSE(check_bearer("", "").has_value());  // no token configured: no auth
  CHECK_FALSE(check_bearer("Bearer s3cret", "s3cret").has_value());
  CHECK_FALSE(check_bearer("bearer   s3cret ", "s3cret").has_value());
  auto missing = check_bearer("", "s3cret");
  REQUIRE(missing);
  CHECK(missing->status() == 401);
  CHECK(missing->code() == "MISSING_API_KEY");
  CHECK(std::string(type_name(missing->type())) == "authentication_error");
  CHECK(check_bearer("Bearer", "s3cret")->code() == "MISSING_API_KEY");
  CHECK(check_bearer("Bearer wrong", "s3cret")->code() == "INVALID_API_KEY");
  CHECK(check_bearer("Basic czNjcmV0", "s3cret")->code() == "INVALID_API_KEY");
  CHECK(check_bearer("s3cret", "s3cret")->code() == "INVALID_API_KEY");
}

TEST_CASE("CORS: no origin by default, listed origins echoed, '*' never with credentials", "[http][middleware]") {
  CorsPolicy none;
  CHECK(cors_headers(none, "https://app.example", false).empty());
  CorsPolicy listed{{"https://app.example", "http://127.0.0.1:9000/"}};
  CHECK(cors_headers(listed, "", false).empty());
  CHECK(cors_headers(listed, "https://evil.example", true).empty());
  auto h = cors_headers(listed, "http://127.0.0.1:9000", true);
  auto value = [&](const HeaderList& l, const std::string& k) {
    for (const auto& [key, v] : l)
      if (key == k) return v;
    return std::string("<absent>");
  };
  CHECK(value(h, "Access-Control-Allow-Origin") == "http://127.0.0.1:9000");
  CHECK(value(h, "Vary") == "Origin");
  CHECK(value(h, "Access-Control-Allow-Credentials") == "true");
  CHECK_THAT(value(h, "Access-Control-Allow-Methods"), Catch::Contains("POST") && Catch::Contains("DELETE"));
  CHECK_THAT(value(h, "Access-Control-Allow-Headers"), Catch::Contains("Authorization") && Catch::Contains("Content-Type"));
  CHECK(value(cors_headers(listed, "http://127.0.0.1:9000", false), "Access-Control-Allow-Methods") == "<absent>");
  CorsPolicy any{{"*"}};
  auto star = cors_headers(any, "https://whoever.example", true);
  CHECK(value(star, "Access-Control-Allow-Origin") == "*");
  CHECK(value(star, "Access-Control-Allow-Credentials") == "<absent>");
}

TEST_CASE("content types", "[http][middleware]") {
  CHECK(media_type("application/json") == "application/json");
  CHECK(media_type("Application/JSON; charset=utf-8") == "application/json");
  CHECK(media_type("text/plain") == "text/plain");
  CHECK(media_type("") == "");
}

TEST_CASE("Prometheus exposition", "[http][metrics]") {
  Histogram h({0.1, 1, 10});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(0.5);
  h.observe(100);
  const auto s = h.snapshot();
  CHECK(s.cumulative == std::vector<uint64_t>{1, 3, 3});
  CHECK(s.count == 4);
  CHECK(s.sum == Approx(101.05));

  Metrics m;
  m.request("submit_job", 200);
  m.request("submit_job", 429);
  m.job_submitted("image_generation");
  m.job_rejected("QUEUE_FULL");
  m.step_seconds(0.02);
  m.job_seconds(1.5);
  WorkerHealth w;
  w.ready = true;
  w.model = "demo";
  w.device = "cpu";
  w.queued = 3;
  w.running = 1;
  w.jobs_completed = 7;
  w.model_load_ms = 1500;
  const std::string text = m.render(w, 123456, "0.1.0");
  for (const char* line : {"sdw_queue_depth 3", "sdw_jobs{state=\"queued\"} 3", "sdw_jobs{state=\"running\"} 1",
                           "sdw_jobs_finished_total{state=\"completed\"} 7", "sdw_model_load_seconds 1.5",
                           "sdw_http_requests_total{route=\"submit_job\",status=\"429\"} 1",
                           "sdw_jobs_rejected_total{code=\"QUEUE_FULL\"} 1", "sdw_step_duration_seconds_count 1",
                           "sdw_job_duration_seconds_bucket{le=\"+Inf\"} 1", "process_resident_memory_bytes 123456",
                           "# TYPE sdw_step_duration_seconds histogram"})
    CHECK_THAT(text, Catch::Contains(line));
  CHECK(prometheus_label("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
  CHECK(process_rss_bytes() > 1000000);
}
