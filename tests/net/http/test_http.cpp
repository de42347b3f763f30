// net/ without a server, the parts every route shares: the error shape and status table, request
// ids, framing checks, bearer auth, CORS, content types and the Prometheus exposition. Job
// requests (validation and the rbee Operation mapping) are in test_http_operations.cpp, job ids,
// status JSON and SSE in test_http_sse.cpp. The end-to-end behaviour over real HTTP against the
// real binary is in test_http_e2e.cpp.
#include <catch.hpp>

#include "net/http/errors.h"
#include "net/http/job_handlers.h"
#include "net/http/metrics.h"
#include "net/http/middleware.h"

using namespace sdw;
using namespace sdw::net;
using nlohmann::json;

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
