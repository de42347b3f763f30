// GET /openapi.json against the worker's real behaviour: the document is the one in the source
// tree, lists every route of the route table (and no other), says which need the token exactly as
// the table does, names the schedulers the worker runs, and every response the real binary gives
// (each route, success and error statuses, every SSE event and marker) is a documented status
// whose body conforms to the documented schema. The TypeScript SDK's types come from this
// document (ui/packages/sd-worker-sdk), so this test is what keeps them true.
#include <catch.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "e2e/http_harness.h"
#include "e2e/openapi_check.h"
#include "model/image/image_io.h"
#include "model/schedulers/scheduler.h"
#include "net/http/routes.h"
#include "test_util.h"

using namespace sdw;
using namespace sdw::test;
using nlohmann::json;

namespace {

const std::string kToken = "openapi-test-token";
const std::string kValidUnknownId = "job-00000000-0000-4000-8000-000000000000";

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string source_document_path() { return std::string(SDW_E2E_DIR) + "/../../net/http/openapi.json"; }

const OpenApiCheck& api() {
  static const OpenApiCheck check(json::parse(read_text(source_document_path())));
  return check;
}

// A web UI folder of two files, so the /ui routes answer 200 here whether or not ui/ was built.
struct UiFolder {
  TempDir dir;
  UiFolder() {
    std::filesystem::create_directories(dir.file("assets"));
    std::ofstream(dir.file("index.html")) << "<!doctype html><title>sd-worker</title>";
    std::ofstream(dir.file("assets/app-0123abcd.js")) << "export {};";
  }
};

WorkerProcess& open_worker() {
  static UiFolder ui;
  static WorkerProcess w({"--min-side", "64", "--max-body-bytes", "1048576", "--ui-dir", ui.dir.path()});
  return w;
}

// A sample concrete path for a document path template.
std::string sample_path(const std::string& templ) {
  std::string out = std::regex_replace(templ, std::regex("\\{job_id\\}"), kValidUnknownId);
  out = std::regex_replace(out, std::regex("\\{file\\}"), kValidUnknownId + ".0." + std::string(64, '0') + ".png");
  return std::regex_replace(out, std::regex("\\{path\\}"), "index.html");
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The reply is a documented status of (path, method) and its body and headers are as documented.
void check_reply(const std::string& path, const std::string& method, const HttpReply& r) {
  INFO(method << " " << path << " -> " << r.status << ": " << r.raw.substr(0, 400));
  const json* response = api().response(path, lower(method), r.status);
  REQUIRE(response != nullptr);  // the status is in the document
  CHECK_FALSE(r.header("X-Request-Id").empty());
  const json headers = response->value("headers", json::object());
  for (const auto& [name, _] : headers.items()) {
    INFO("documented header " << name);
    CHECK_FALSE(r.header(name).empty());
  }
  const json content = response->value("content", json::object());
  if (content.empty()) {
    CHECK(r.raw.empty());
    return;
  }
  if (content.contains("application/json")) {
    REQUIRE(r.header("Content-Type").rfind("application/json", 0) == 0);
    REQUIRE_FALSE(r.body.is_null());
    const auto problems = api().problems(r.body, content["application/json"]["schema"]);
    INFO(problems.size() << " problems, first: " << (problems.empty() ? "" : problems.front()));
    CHECK(problems.empty());
    return;
  }
  bool listed = false;
  const std::string type = r.header("Content-Type").substr(0, r.header("Content-Type").find(';'));
  for (const auto& [media, _] : content.items()) listed = listed || media == type || media == "*/*";
  CHECK(listed);
}

void check_error_reply(const HttpReply& r, int status, const std::string& code) {
  INFO(r.raw);
  CHECK(r.status == status);
  CHECK(api().problems_of_component(r.body, "ErrorResponse").empty());
  CHECK(r.body["error"]["code"] == code);
}

// Every frame of a finished stream conforms: named events to x-sse-events[name], the marker to
// StreamMarker. Returns the event names seen.
std::multiset<std::string> check_stream(const SseStream& s) {
  const json events = api().document()["paths"]["/v1/jobs/{job_id}/stream"]["get"]["responses"]["200"]["content"]
                                        ["text/event-stream"]["x-sse-events"];
  std::multiset<std::string> seen;
  REQUIRE_FALSE(s.events.empty());
  for (const SseEvent& e : s.events) {
    INFO("event '" << e.event << "': " << e.data.substr(0, 300));
    if (e.event.empty()) {
      CHECK(api().problems(json(e.data), events["(marker)"]).empty());
      seen.insert("(marker)");
      continue;
    }
    REQUIRE(events.contains(e.event));
    const auto problems = api().problems(e.json(), events[e.event]);
    INFO((problems.empty() ? "" : problems.front()));
    CHECK(problems.empty());
    seen.insert(e.event);
  }
  return seen;
}

std::string png_base64(int w, int h, unsigned char value) {
  Image img;
  img.width = w;
  img.height = h;
  img.channels = 3;
  img.pixels.assign(static_cast<size_t>(w) * h * 3, value);
  return encode_base64(encode_png(img));
}

// A job body that the document accepts (checked) and the worker too (200).
std::string submit(int port, const json& body, const httplib::Headers& headers = {}) {
  INFO(body.dump().substr(0, 300));
  CHECK(api().problems_of_component(body, "JobRequest").empty());
  const HttpReply r = post_json(port, body, headers);
  check_reply("/v1/jobs", "POST", r);
  REQUIRE(r.status == 200);
  return r.body["job_id"];
}

}  // namespace

TEST_CASE("the served document is the source tree's, and complete", "[e2e][openapi]") {
  const HttpReply r = http_get(open_worker().port(), "/openapi.json");
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type").rfind("application/json", 0) == 0);
  CHECK(r.body == api().document());
  check_reply("/openapi.json", "GET", r);
  const json& doc = api().document();
  CHECK(doc["openapi"].get<std::string>().rfind("3.1.", 0) == 0);
  CHECK(doc["info"]["version"] == http_get(open_worker().port(), "/info").body["version"]);
  for (const std::string& ref : api().all_refs()) {
    INFO(ref);
    CHECK_NOTHROW(api().resolve(ref));
  }
}

TEST_CASE("the document lists every route of the route table, no other, with its auth", "[e2e][openapi]") {
  const json& paths = api().document()["paths"];
  std::set<const net::Route*> documented;
  for (const auto& [templ, item] : paths.items()) {
    for (const auto& [method, op] : item.items()) {
      if (method == "parameters") continue;
      INFO(method << " " << templ);
      std::string upper = method;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      const net::Route* route = net::match_route(upper, sample_path(templ));
      REQUIRE(route != nullptr);  // a documented operation is a real route
      documented.insert(route);
      // security: [] in the document <=> the route needs no token
      const bool open = op.contains("security") && op["security"].empty();
      CHECK(open == !route->needs_auth);
      CHECK(op.contains("operationId"));
    }
  }
  for (const net::Route& route : net::route_table()) {
    INFO("route " << net::method_name(route.method) << " " << route.pattern << " (" << route.name << ")");
    CHECK(documented.count(&route) == 1);
  }
}

TEST_CASE("the document's scheduler list is the worker's", "[e2e][openapi]") {
  const json names = api().document()["components"]["schemas"]["SchedulerName"]["enum"];
  CHECK(names == json(scheduler_names()));
  for (const auto& n : names) CHECK(canonical_scheduler_name(n.get<std::string>()) == n.get<std::string>());
}

TEST_CASE("the checker finds what does not conform", "[e2e][openapi]") {
  const json progress = {{"type", "progress"}, {"job_id", "j"}, {"step", 1}, {"total", 2}, {"percent", 50.0}, {"elapsed_ms", 3.0}};
  CHECK(api().problems_of_component(progress, "ProgressEvent").empty());
  CHECK(api().problems_of_component(progress, "JobEvent").empty());
  json extra = progress;
  extra["new_field"] = 1;
  CHECK_FALSE(api().problems_of_component(extra, "ProgressEvent").empty());
  json missing = progress;
  missing.erase("step");
  CHECK_FALSE(api().problems_of_component(missing, "ProgressEvent").empty());
  json wrong = progress;
  wrong["percent"] = "50";
  CHECK_FALSE(api().problems_of_component(wrong, "JobEvent").empty());
  CHECK_FALSE(api().problems_of_component(json{{"error", {{"code", "X"}, {"message", "m"}, {"type", "nope"}}}}, "ErrorResponse").empty());
  CHECK_FALSE(api().problems(json(1), json{{"maxItems", 1}}).empty());  // an unchecked keyword is a problem
  CHECK_FALSE(api().problems_of_component(json{{"operation", "image_transform"}, {"hive_id", "h"}, {"model", "demo"}, {"prompt", "p"}},
                                          "JobRequest").empty());  // input_image missing
}

TEST_CASE("service routes, models and the UI answer as documented", "[e2e][openapi]") {
  const int port = open_worker().port();
  for (const char* path : {"/", "/health", "/ready", "/info", "/metrics", "/v1/models", "/openapi.json"})
    check_reply(path, "GET", http_get(port, path));
  check_reply("/ui", "GET", http_get(port, "/ui"));
  check_reply("/ui/{path}", "GET", http_get(port, "/ui/"));
  const HttpReply asset = http_get(port, "/ui/assets/app-0123abcd.js");
  check_reply("/ui/{path}", "GET", asset);
  check_reply("/ui/{path}", "GET", http_get(port, "/ui/assets/app-0123abcd.js", {{"If-None-Match", asset.header("ETag")}}));
  const HttpReply missing = http_get(port, "/ui/nothing.js");
  check_reply("/ui/{path}", "GET", missing);
  CHECK(missing.body["error"]["code"] == "FILE_NOT_FOUND");

  // No route, and a known path with another method: the error shape, Allow = the documented methods.
  check_error_reply(http_get(port, "/no/such/route"), 404, "ROUTE_NOT_FOUND");
  const HttpReply put = http_post(port, "/v1/models", "{}");
  check_error_reply(put, 405, "METHOD_NOT_ALLOWED");
  CHECK(put.header("Allow") == "GET, OPTIONS");
  const HttpReply del = http_delete(port, "/v1/jobs");
  check_error_reply(del, 405, "METHOD_NOT_ALLOWED");
  CHECK(del.header("Allow") == "POST, OPTIONS");
}

TEST_CASE("jobs of each operation: submit, stream, status, cancel as documented", "[e2e][openapi][sse]") {
  const int port = open_worker().port();

  // txt2img with previews and two images: progress, preview, narration, complete, [DONE].
  json t2i = demo_job(6, 11);
  t2i["preview_every"] = 2;
  t2i["num_images"] = 2;
  t2i["negative_prompt"] = "blurry";
  t2i["scheduler"] = "Euler a";
  t2i["seed"] = "11";
  const std::string id = submit(port, t2i);
  const SseStream s = read_sse(port, "/v1/jobs/" + id + "/stream");
  CHECK(s.status == 200);
  const auto seen = check_stream(s);
  for (const char* name : {"progress", "preview", "narration", "complete", "(marker)"}) {
    INFO(name);
    CHECK(seen.count(name) > 0);
  }
  const HttpReply status = http_get(port, "/v1/jobs/" + id);
  check_reply("/v1/jobs/{job_id}", "GET", status);
  CHECK(status.body["state"] == "completed");
  CHECK(status.body.contains("result"));
  // A reconnect after the end, a finished job's cancel, unknown and malformed ids.
  const HttpReply after = http_get(port, "/v1/jobs/" + id + "/stream", {{"Last-Event-ID", "100000"}});
  check_reply("/v1/jobs/{job_id}/stream", "GET", after);
  CHECK(after.status == 204);
  check_reply("/v1/jobs/{job_id}", "DELETE", http_delete(port, "/v1/jobs/" + id));
  for (const std::string& bad : {kValidUnknownId, std::string("not-a-job")}) {
    check_reply("/v1/jobs/{job_id}", "GET", http_get(port, "/v1/jobs/" + bad));
    check_reply("/v1/jobs/{job_id}", "DELETE", http_delete(port, "/v1/jobs/" + bad));
    check_reply("/v1/jobs/{job_id}/stream", "GET", http_get(port, "/v1/jobs/" + bad + "/stream"));
  }

  // img2img and inpainting.
  json i2i = demo_job(4, 12);
  i2i["operation"] = "image_transform";
  i2i["input_image"] = png_base64(64, 64, 90);
  i2i["strength"] = 0.75;
  i2i.erase("width");
  i2i.erase("height");
  check_stream(read_sse(port, "/v1/jobs/" + submit(port, i2i) + "/stream"));
  json inpaint = demo_job(4, 13);
  inpaint["operation"] = "image_inpaint";
  inpaint["init_image"] = "data:image/png;base64," + png_base64(64, 64, 90);
  inpaint["mask_image"] = png_base64(64, 64, 255);
  check_stream(read_sse(port, "/v1/jobs/" + submit(port, inpaint) + "/stream"));

  // A running job cancelled: narration job_cancelled and [CANCELLED].
  json slow = demo_job(150, 14);
  slow["width"] = slow["height"] = 256;
  const std::string running = submit(port, slow);
  wait_for_state(port, running, "running");
  check_reply("/v1/jobs/{job_id}", "DELETE", http_delete(port, "/v1/jobs/" + running));
  const SseStream cancelled = read_sse(port, "/v1/jobs/" + running + "/stream");
  check_stream(cancelled);
  REQUIRE(cancelled.markers.size() == 1);
  CHECK(cancelled.markers[0] == "[CANCELLED]");
  check_reply("/v1/jobs/{job_id}", "GET", http_get(port, "/v1/jobs/" + running));
}

TEST_CASE("refused submissions answer with documented statuses and the error shape", "[e2e][openapi][validation]") {
  const int port = open_worker().port();
  json loras = demo_job();
  loras["loras"] = json::array({{{"path", "style.safetensors"}, {"strength", 0.8}}});
  json steps = demo_job();
  steps["steps"] = 500;
  json unknown = demo_job();
  unknown["operation"] = "video_generation";
  json model = demo_job();
  model["model"] = "not-served";
  json image = demo_job();
  image["operation"] = "image_transform";
  image["input_image"] = "bm90IGFuIGltYWdl";
  json missing = demo_job();
  missing.erase("prompt");
  for (const json& body : {loras, steps, unknown, model, image, missing}) {
    const HttpReply r = post_json(port, body);
    check_reply("/v1/jobs", "POST", r);
    CHECK(r.status == 400);
  }
  check_reply("/v1/jobs", "POST", http_post(port, "/v1/jobs", "{\"operation\":", "application/json"));
  check_reply("/v1/jobs", "POST", http_post(port, "/v1/jobs", demo_job().dump(), "text/plain"));
  check_reply("/v1/jobs", "POST", http_post(port, "/v1/jobs", std::string(2u << 20, ' '), "application/json"));
}

TEST_CASE("with a token: 401s, open routes, a job that fails, a full queue", "[e2e][openapi][auth]") {
  UiFolder ui;
  WorkerProcess w({"--min-side", "64", "--api-token", kToken, "--job-timeout-s", "3", "--queue-size", "1", "--ui-dir",
                   ui.dir.path()});
  const int port = w.port();
  const httplib::Headers auth = {{"Authorization", "Bearer " + kToken}};
  for (const char* path : {"/info", "/metrics", "/v1/models"}) {
    const HttpReply r = http_get(port, path);
    check_reply(path, "GET", r);
    CHECK(r.status == 401);
  }
  check_reply("/v1/jobs", "POST", post_json(port, demo_job(), {{"Authorization", "Bearer wrong"}}));
  const HttpReply openai = http_post(port, "/v1/images/generations", R"({"prompt":"x"})");
  check_reply("/v1/images/generations", "POST", openai);
  CHECK(openai.status == 401);
  CHECK(openai.body["error"]["code"] == "missing_api_key");
  check_reply("/v1/jobs/{job_id}", "GET", http_get(port, "/v1/jobs/" + kValidUnknownId));
  for (const char* path : {"/", "/health", "/ready", "/openapi.json"}) {
    const HttpReply r = http_get(port, path);
    CHECK(r.status == 200);
    check_reply(path, "GET", r);
  }
  check_reply("/ui/{path}", "GET", http_get(port, "/ui/"));

  // 150 steps at 256x256 (about 5 s) run past the 3 s deadline: error event, [ERROR] marker. The
  // queue holds one more; a third is 429.
  json slow = demo_job(150, 21);
  slow["width"] = slow["height"] = 256;
  const std::string failing = submit(port, slow, auth);
  wait_for_state(port, failing, "running", 600, auth);
  const std::string queued = submit(port, slow, auth);
  const HttpReply full = post_json(port, slow, auth);
  check_reply("/v1/jobs", "POST", full);
  CHECK(full.status == 429);
  const HttpReply queued_status = http_get(port, "/v1/jobs/" + queued, auth);
  check_reply("/v1/jobs/{job_id}", "GET", queued_status);
  const SseStream s = read_sse(port, "/v1/jobs/" + failing + "/stream", auth);
  const auto seen = check_stream(s);
  CHECK(seen.count("error") == 1);
  check_reply("/v1/jobs/{job_id}", "GET", http_get(port, "/v1/jobs/" + failing, auth));
  http_delete(port, "/v1/jobs/" + queued, auth);
}

TEST_CASE("OpenAI Images routes answer as documented, in OpenAI's error shape", "[e2e][openapi][openai]") {
  const int port = open_worker().port();
  const json body = {{"prompt", "a fox"}, {"size", "64x64"}, {"steps", 3}, {"seed", 5}, {"n", 2}};
  json b64 = body;
  b64["response_format"] = "b64_json";
  const HttpReply generated = http_post(port, "/v1/images/generations", b64.dump());
  check_reply("/v1/images/generations", "POST", generated);
  REQUIRE(generated.status == 200);
  CHECK(generated.body["data"].size() == 2);
  CHECK_FALSE(generated.header("X-Job-Id").empty());
  const HttpReply by_url = http_post(port, "/v1/images/generations", body.dump());
  check_reply("/v1/images/generations", "POST", by_url);
  REQUIRE(by_url.status == 200);
  const std::string url = by_url.body["data"][1]["url"];
  const std::string prefix = "http://127.0.0.1:" + std::to_string(port);
  REQUIRE(url.rfind(prefix + "/v1/images/files/", 0) == 0);
  const HttpReply file = http_get(port, url.substr(prefix.size()));
  check_reply("/v1/images/files/{file}", "GET", file);
  CHECK(file.raw == decode_base64(generated.body["data"][1]["b64_json"].get<std::string>()));
  check_reply("/v1/images/files/{file}", "GET", http_get(port, sample_path("/v1/images/files/{file}")));

  // Edits: multipart, with a mask (inpainting) and without (img2img at the image's size).
  const std::string image = encode_png(decode_image_base64(png_base64(72, 64, 90)));
  Image mask;
  mask.width = 72, mask.height = 64, mask.channels = 4;
  mask.pixels.assign(72 * 64 * 4, 0);  // all transparent: repaint everything
  const httplib::MultipartFormDataItems form = {{"image", image, "image.png", "image/png"},
                                               {"mask", encode_png(mask), "mask.png", "image/png"},
                                               {"prompt", "a fox", "", ""}, {"steps", "3", "", ""},
                                               {"response_format", "b64_json", "", ""}};
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(120, 0);
  for (size_t parts : {form.size(), size_t{1}}) {
    httplib::MultipartFormDataItems items(form.begin(), form.end());
    if (parts == 1) items.erase(items.begin() + 1);  // no mask
    const auto res = client.Post("/v1/images/edits", items);
    REQUIRE(res);
    HttpReply r;
    r.status = res->status;
    r.raw = res->body;
    r.headers = res->headers;
    r.body = json::parse(res->body, nullptr, false);
    check_reply("/v1/images/edits", "POST", r);
    REQUIRE(r.status == 200);
    const Image out = decode_image_base64(r.body["data"][0]["b64_json"].get<std::string>());
    CHECK((out.width == 72 && out.height == 64));
  }

  // Refusals: each a documented status in OpenAI's shape, naming the field.
  json bad_size = body;
  bad_size["size"] = "64x60";
  json bad_n = body;
  bad_n["n"] = 100;
  json bad_format = body;
  bad_format["response_format"] = "gif";
  for (const auto& [refused, param] : {std::pair{bad_size, "size"}, {bad_n, "n"}, {bad_format, "response_format"}}) {
    const HttpReply r = http_post(port, "/v1/images/generations", refused.dump());
    check_reply("/v1/images/generations", "POST", r);
    CHECK(r.status == 400);
    CHECK(r.body["error"]["param"] == param);
    CHECK(r.body["error"]["code"] == "invalid_field");
  }
  const HttpReply no_prompt = http_post(port, "/v1/images/generations", "{}");
  check_reply("/v1/images/generations", "POST", no_prompt);
  CHECK(no_prompt.body["error"]["code"] == "missing_field");
  check_reply("/v1/images/generations", "POST", http_post(port, "/v1/images/generations", body.dump(), "text/plain"));
  const HttpReply big = http_post(port, "/v1/images/generations", std::string(2u << 20, ' '));
  check_reply("/v1/images/generations", "POST", big);
  CHECK(big.status == 413);
  check_reply("/v1/images/edits", "POST", http_post(port, "/v1/images/edits", body.dump()));  // not multipart: 415
  const HttpReply wrong_method = http_get(port, "/v1/images/generations");  // 405, in OpenAI's shape too
  CHECK(wrong_method.status == 405);
  CHECK(api().problems_of_component(wrong_method.body, "OpenAiErrorResponse").empty());

  // Counted in /metrics under the route names and operations.
  const std::string metrics = http_get(port, "/metrics").raw;
  CHECK(metrics.find("sdw_http_requests_total{route=\"openai_generations\",status=\"200\"}") != std::string::npos);
  CHECK(metrics.find("sdw_jobs_submitted_total{operation=\"openai.edits\"} 2") != std::string::npos);
  CHECK(metrics.find("sdw_jobs_rejected_total{code=\"INVALID_FIELD\"}") != std::string::npos);
}

TEST_CASE("a model that fails to load: 503s as documented", "[e2e][openapi][ready]") {
  WorkerProcess w({"--model", "/nonexistent/model-folder", "--min-side", "64"}, {}, true, WorkerProcess::WaitFor::listening);
  const int port = w.port();
  HttpReply ready;
  for (int i = 0; i < 600; ++i) {  // bounded: the load fails within moments
    ready = http_get(port, "/ready");
    if (ready.status == 503 && ready.body.value("reason", "").find("loading") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  check_reply("/ready", "GET", ready);
  check_reply("/health", "GET", http_get(port, "/health"));
  check_reply("/", "GET", http_get(port, "/"));
  check_reply("/v1/models", "GET", http_get(port, "/v1/models"));
  json body = demo_job();
  body["model"] = "/nonexistent/model-folder";
  const HttpReply job = post_json(port, body);
  check_reply("/v1/jobs", "POST", job);
  CHECK(job.status == 503);
}
