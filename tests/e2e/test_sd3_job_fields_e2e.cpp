// SD3's job fields over real HTTP (`sd-worker serve` on the tiny-sd3 fixture): `t5: false` gives
// diffusers' image of the model without text_encoder_3 (sd3_no_t5), `max_sequence_length: 77` the
// image of the 77-token case (and not the 256-token one), `serve --max-sequence-length` sets the
// jobs' default, `serve --no-t5` loads no T5 (fewer weight bytes, jobs without the field get the
// no-T5 image, `t5: true` is a 400), bad values are 400s naming the field, and both fields are
// refused by a model of another family (the demo model); `--t5-device` / `--no-t5` /
// `--max-sequence-length` reach generate and serve. Images: max pixel difference <= 1 from the
// PNGs of StableDiffusion3Pipeline.
#include <catch.hpp>

#include "e2e/http_harness.h"
#include "e2e/sd3_jobs.h"
#include "model/image/image_io.h"
#include "seeded_cases.h"

using namespace sdw;
using namespace sdw::test;
using nlohmann::json;

namespace {

Image expected_png(const json& c) { return load_image(fixture("sd3/" + c["expected"][0]["png"].get<std::string>())); }

// Runs a job to its end: the complete event's image (REQUIREs that it completed).
Image run_job(int port, const json& job) {
  const HttpReply r = post_json(port, job);
  INFO(r.raw);
  REQUIRE(r.status == 200);
  const SseStream s = read_sse(port, "/v1/jobs/" + r.body["job_id"].get<std::string>() + "/stream");
  INFO(s.raw.substr(0, 2000));
  REQUIRE(s.named("complete").size() == 1);
  return decode_image_base64(s.named("complete")[0].json()["image"].get<std::string>());
}

// A 400 whose message names `needle`.
void refused(int port, const json& job, const std::string& needle) {
  const HttpReply r = post_json(port, job);
  INFO(r.raw);
  CHECK(r.status == 400);
  CHECK(r.raw.find(needle) != std::string::npos);
}

std::string served_id(int port) { return http_get(port, "/v1/models").body["data"][0]["id"]; }
// GET /v1/models' memory of the served model: {weight_bytes, estimate_bytes}.
json memory(int port) { return http_get(port, "/v1/models").body["data"][0]["memory"]; }

}  // namespace

TEST_CASE("SD3 jobs: t5 and max_sequence_length give diffusers' images; bad values are 400s", "[e2e][sd3]") {
  WorkerProcess w({"--model", fixture("pipelines/tiny-sd3"), "--min-side", "48"});
  const std::string id = served_id(w.port());
  const json with_t5 = memory(w.port());

  // t5: false on a model that has T5 = the pipeline without text_encoder_3.
  const json no_t5 = sd3_case("sd3_no_t5");
  json job = sd3_job(no_t5, id);
  job["t5"] = false;
  CHECK(max_pixel_diff(run_job(w.port(), job), expected_png(no_t5)) <= 1);
  // t5: true (the default) on the same settings is a different image: the field is not ignored.
  job["t5"] = true;
  CHECK(max_pixel_diff(run_job(w.port(), job), expected_png(no_t5)) > 1);

  // max_sequence_length: 77 = diffusers' max_sequence_length=77; without it the 256-token image.
  const json c77 = sd3_case("sd3_maxseq77");
  job = sd3_job(c77, id);
  const Image default_len = run_job(w.port(), job);
  CHECK(max_pixel_diff(default_len, expected_png(c77)) > 1);
  job["max_sequence_length"] = 77;
  CHECK(max_pixel_diff(run_job(w.port(), job), expected_png(c77)) <= 1);
  job["max_sequence_length"] = 256;  // the default, said explicitly
  CHECK(max_pixel_diff(run_job(w.port(), job), default_len) == 0);

  // Bad values: 400 INVALID_FIELD naming the field, before the job is queued.
  for (const json& bad : {json(0), json(513), json(-1), json("77"), json(77.5), json(true)}) {
    json b = sd3_job(c77, id);
    b["max_sequence_length"] = bad;
    INFO(bad.dump());
    refused(w.port(), b, "max_sequence_length");
    refused(w.port(), b, "INVALID_FIELD");
  }
  for (const json& bad : {json("false"), json(0), json(1), json::array()}) {
    json b = sd3_job(no_t5, id);
    b["t5"] = bad;
    INFO(bad.dump());
    refused(w.port(), b, "t5 must be true or false");
  }
  CHECK(w.stop() == 0);

  // serve --max-sequence-length 77: the jobs' default.
  WorkerProcess w77({"--model", fixture("pipelines/tiny-sd3"), "--min-side", "48", "--max-sequence-length", "77"});
  CHECK(max_pixel_diff(run_job(w77.port(), sd3_job(c77, served_id(w77.port()))), expected_png(c77)) <= 1);
  CHECK(w77.stop() == 0);

  // serve --no-t5: no T5 in memory; jobs without the field get the no-T5 image; t5: true is refused.
  WorkerProcess wn({"--model", fixture("pipelines/tiny-sd3"), "--min-side", "48", "--no-t5"});
  const std::string idn = served_id(wn.port());
  const json without_t5 = memory(wn.port());
  CHECK(without_t5["weight_bytes"].get<int64_t>() < with_t5["weight_bytes"].get<int64_t>());
  CHECK(without_t5["estimate_bytes"].get<int64_t>() < with_t5["estimate_bytes"].get<int64_t>());
  CHECK(max_pixel_diff(run_job(wn.port(), sd3_job(no_t5, idn)), expected_png(no_t5)) <= 1);
  json t5_on = sd3_job(no_t5, idn);
  t5_on["t5"] = true;
  refused(wn.port(), t5_on, "without its T5 encoder (--no-t5)");
  t5_on["t5"] = false;
  CHECK(max_pixel_diff(run_job(wn.port(), t5_on), expected_png(no_t5)) <= 1);
}

TEST_CASE("t5 and max_sequence_length are refused for a model that is not SD3", "[e2e][sd3]") {
  WorkerProcess w({"--min-side", "64"});  // the demo model (an SD1.x architecture)
  json job = demo_job(2);
  job["t5"] = false;
  refused(w.port(), job, "t5: only SD3 models");
  job["t5"] = true;
  refused(w.port(), job, "t5: only SD3 models");
  job.erase("t5");
  job["max_sequence_length"] = 77;
  refused(w.port(), job, "max_sequence_length: only SD3 models");
  job["max_sequence_length"] = 600;  // out of range is refused by the parser whatever the model
  refused(w.port(), job, "max_sequence_length must be between 1 and 512");
  job.erase("max_sequence_length");
  const HttpReply ok = post_json(w.port(), job);  // the same job without them runs
  CHECK(ok.status == 200);
}

TEST_CASE("--t5-device, --no-t5 and --max-sequence-length reach generate and serve", "[e2e][sd3]") {
  TempDir tmp;
  auto worker = [](std::vector<std::string> args) {
    args.insert(args.begin(), SDW_WORKER_BINARY);
    return run_process(args);
  };
  // generate with T5 named onto the CPU (this machine's only device): diffusers' image unchanged.
  const json c = sd3_case("sd3_default");
  const ProcessResult g = worker({"generate", "--model", fixture("pipelines/tiny-sd3"), "--prompt", c["prompt"],
                                  "--negative-prompt", c["negative_prompt"], "--width", "64", "--height", "64",
                                  "--steps", "4", "--guidance", "7", "--seed", "42", "--t5-device", "cpu",
                                  "--output", tmp.file("t5cpu.png")});
  INFO(g.output());
  REQUIRE(g.exit_code == 0);
  CHECK(max_pixel_diff(load_image(tmp.file("t5cpu.png")), expected_png(c)) <= 1);
  // An unknown device is refused before anything loads.
  const ProcessResult bad = worker({"generate", "--model", fixture("pipelines/tiny-sd3"), "--prompt", "a fox",
                                    "--t5-device", "tpu:9", "--output", tmp.file("x.png")});
  CHECK(bad.exit_code != 0);
  CHECK(bad.output().find("tpu:9") != std::string::npos);
  const ProcessResult bad_serve = worker({"serve", "--t5-device", "tpu:9", "--port", "0"});
  CHECK(bad_serve.exit_code == 2);
  CHECK(bad_serve.output().find("tpu:9") != std::string::npos);
  // serve's effective settings carry the three options.
  const ProcessResult p =
      worker({"serve", "--no-t5", "--max-sequence-length", "77", "--t5-device", "cpu", "--print-config"});
  REQUIRE(p.exit_code == 0);
  const json cfg = json::parse(p.out);
  CHECK(cfg["no_t5"] == true);
  CHECK(cfg["max_sequence_length"] == 77);
  CHECK(cfg["t5_device"] == "cpu");
  CHECK(worker({"serve", "--max-sequence-length", "513", "--print-config"}).exit_code == 2);
}
