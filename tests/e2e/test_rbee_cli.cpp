// How rbee (and people) start the worker, end to end on the real binary:
//  1. settings from flags, environment, the JSON --config file and defaults, in that precedence,
//     with clear errors for unknown keys, bad JSON and bad values; the shipped config/worker.json;
//  2. the Rust SD worker's flags (--sd-version, --model-path, --cuda-device, --metal-device,
//     --use-f16, --use-flash-attn) and their environment variables; the install names
//     sd-worker-rbee|cpu|cuda|metal (links to one binary) and their default devices; the hive's
//     spawn form through an install name;
//  3. structured logs (LLORCH_LOG_FORMAT=json|text) and per-job narration in the SSE stream with
//     rbee's fields (actor, action, target, human, job_id, correlation_id, emitted_at_ms).
#include <catch.hpp>

#include <ATen/Context.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "e2e/http_harness.h"
#include "test_util.h"

using namespace sdw;
using namespace sdw::test;
using nlohmann::json;

namespace {

// Variables a CI machine or a developer's shell might carry that would change the answers.
const std::vector<std::string> kRbeeEnv = {"PORT",           "WORKER_ID",      "MODEL_PATH", "SD_VERSION",
                                           "CUDA_DEVICE",    "METAL_DEVICE",   "USE_F16",    "USE_FLASH_ATTN",
                                           "QUEEN_URL",      "CALLBACK_URL",   "LLORCH_API_TOKEN",
                                           "HEARTBEAT_INTERVAL_SECS", "SD_WORKER_CONFIG", "SD_WORKER_QUEUE_SIZE",
                                           "SD_WORKER_CHANNELS_LAST", "SD_WORKER_NO_CHANNELS_LAST", "SD_WORKER_NO_CUDA_GRAPHS",
                                           "LLORCH_LOG_FORMAT"};

using Env = std::vector<std::pair<std::string, std::string>>;

// `<binary> <args> --print-config` -> the effective settings.
json effective(std::vector<std::string> args, const Env& env = {}, const std::string& install_name = "") {
  std::vector<std::string> argv = {worker_binary(install_name)};
  if (install_name.empty()) argv.push_back("serve");
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--print-config");
  const ProcessResult r = run_process(argv, env, kRbeeEnv);
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

ProcessResult refused(std::vector<std::string> args, const Env& env = {}, const std::string& install_name = "") {
  std::vector<std::string> argv = {worker_binary(install_name)};
  if (install_name.empty()) argv.push_back("serve");
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--print-config");
  return run_process(argv, env, kRbeeEnv);
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("settings: flags > environment > config file > defaults", "[rbee][cli]") {
  TempDir dir;
  const std::string file = dir.file("worker.json");
  write_file(file, R"({
    // comments are allowed
    "port": 1111,
    "queue_size": 5,
    "worker-id": "from-file",
    "heartbeat_interval": 2.5,
    "cors_origin": ["http://a.example", "http://b.example"],
    "use_f16": true,
    "queen_url": ""
  })");

  const json defaults = effective({});
  CHECK(defaults["port"] == 8080);
  CHECK(defaults["queue_size"] == 16);
  CHECK(defaults["dtype"] == "fp32");
  CHECK(defaults["model"] == "demo");
  CHECK(defaults["device"] == json::array({"cpu"}));

  const json from_file = effective({"--config", file});
  CHECK(from_file["port"] == 1111);
  CHECK(from_file["queue_size"] == 5);
  CHECK(from_file["worker_id"] == "from-file");
  CHECK(from_file["heartbeat_interval"] == 2.5);
  CHECK(from_file["cors_origin"] == json::array({"http://a.example", "http://b.example"}));
  CHECK(from_file["dtype"] == "fp16");  // use_f16
  CHECK(from_file["max_steps"] == 150);  // not in the file: default
  CHECK(from_file["config"] == file);

  // The environment beats the file, rbee's names and the SD_WORKER_ ones alike.
  const json env_wins =
      effective({"--config", file}, {{"PORT", "2222"}, {"WORKER_ID", "from-env"}, {"SD_WORKER_QUEUE_SIZE", "7"}});
  CHECK(env_wins["port"] == 2222);
  CHECK(env_wins["worker_id"] == "from-env");
  CHECK(env_wins["queue_size"] == 7);
  CHECK(env_wins["heartbeat_interval"] == 2.5);

  // Flags beat both; `--flag=value` form too.
  const json flag_wins = effective({"--config", file, "--port", "3333", "--worker-id=from-flag"}, {{"PORT", "2222"}});
  CHECK(flag_wins["port"] == 3333);
  CHECK(flag_wins["worker_id"] == "from-flag");
  CHECK(flag_wins["queue_size"] == 5);

  // The file can come from SD_WORKER_CONFIG; a false boolean in the environment beats the file's true.
  const json via_env = effective({}, {{"SD_WORKER_CONFIG", file}, {"USE_F16", "false"}});
  CHECK(via_env["port"] == 1111);
  CHECK(via_env["dtype"] == "fp32");

  // The commented example shipped in config/ is valid and states the defaults.
  const json shipped = effective({"--config", fixture("../../config/worker.json")});
  CHECK(shipped["port"] == 8080);
  CHECK(shipped["model"] == "demo");
  CHECK(shipped["host"] == "127.0.0.1");

  SECTION("bad files are refused with the reason") {
    write_file(dir.file("unknown.json"), R"({"port": 1, "bogus_setting": 2})");
    ProcessResult r = refused({"--config", dir.file("unknown.json")});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("unknown setting 'bogus_setting'"));

    write_file(dir.file("broken.json"), R"({"port": 1,)");
    r = refused({"--config", dir.file("broken.json")});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("not valid JSON"));

    // Found by fuzz_serve_config: a number past a double ended `serve` with an uncaught exception.
    write_file(dir.file("overflow.json"), R"({"port": 1e400})");
    r = refused({"--config", dir.file("overflow.json")});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("not valid JSON"));

    write_file(dir.file("range.json"), R"({"port": 70000})");
    r = refused({"--config", dir.file("range.json")});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("--port"));

    write_file(dir.file("flag.json"), R"({"use_f16": "yes"})");
    r = refused({"--config", dir.file("flag.json")});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("must be true or false"));

    r = refused({"--config", dir.file("missing.json")});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("cannot read the config file"));
  }
}

TEST_CASE("the Rust SD worker's flags, their environment variables and the install names", "[rbee][cli]") {
  // Install names: one binary, the name's default device.
  CHECK(effective({}, {}, "sd-worker-cpu")["device"] == json::array({"cpu"}));
  CHECK(effective({}, {}, "sd-worker-rbee")["device"] == json::array({"cpu"}));
  CHECK(effective({}, {}, "sd-worker-cuda")["device"] == json::array({"cuda:0"}));
  CHECK(effective({}, {}, "sd-worker-metal")["device"] == json::array({"mps"}));
  CHECK(effective({"--cuda-device", "1"}, {}, "sd-worker-cuda")["device"] == json::array({"cuda:1"}));
  CHECK(effective({}, {{"CUDA_DEVICE", "3"}}, "sd-worker-cuda")["device"] == json::array({"cuda:3"}));
  CHECK(effective({"--device", "cpu"}, {}, "sd-worker-cuda")["device"] == json::array({"cpu"}));
  CHECK(effective({}, {}, "sd-worker-cuda")["binary"] == "sd-worker-cuda");
  // The plain binary: the device flags pick the backend.
  CHECK(effective({"--cuda-device", "2"})["device"] == json::array({"cuda:2"}));
  CHECK(effective({"--metal-device", "0"})["device"] == json::array({"mps"}));
  CHECK(refused({"--cuda-device", "0", "--metal-device", "0"}).exit_code == 2);

  // Precision.
  CHECK(effective({"--use-f16"})["dtype"] == "fp16");
  CHECK(effective({}, {{"USE_F16", "true"}})["dtype"] == "fp16");
  CHECK(effective({}, {{"USE_F16", "1"}})["dtype"] == "fp16");
  CHECK(effective({"--dtype", "bf16"})["dtype"] == "bf16");
  {
    const ProcessResult r = refused({"--use-f16", "--dtype", "bf16"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("--use-f16 contradicts --dtype bf16"));
  }
  CHECK(effective({"--use-flash-attn"})["use_flash_attn"] == true);
  CHECK(effective({}, {{"USE_FLASH_ATTN", "true"}})["use_flash_attn"] == true);
  // Speed switches, from a flag or SD_WORKER_<FLAG>: CUDA graphs on unless turned off;
  // channels_last "auto" (on for CUDA) unless forced either way.
  const json speed = effective({});
  CHECK(speed["no_cuda_graphs"] == false);
  CHECK(speed["channels_last"] == "auto");
  CHECK(effective({"--no-cuda-graphs"})["no_cuda_graphs"] == true);
  CHECK(effective({}, {{"SD_WORKER_CHANNELS_LAST", "true"}})["channels_last"] == true);
  CHECK(effective({"--no-channels-last"})["channels_last"] == false);
  {
    const ProcessResult r = refused({"--channels-last", "--no-channels-last"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("--channels-last contradicts --no-channels-last"));
  }

  // Model: --sd-version names a catalog version, served unless --model / --model-path says otherwise.
  const json v = effective({"--sd-version", "v2-1"});
  CHECK(v["model"] == "v2-1");
  CHECK(v["sd_version"] == "v2-1");
  const json p = effective({}, {{"SD_VERSION", "v1-5"}, {"MODEL_PATH", "/models/sd15"}});
  CHECK(p["model"] == "/models/sd15");
  CHECK(p["sd_version"] == "v1-5");
  {
    const ProcessResult r = refused({"--sd-version", "v9"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("v1-5") && Catch::Contains("sd-turbo"));
  }

  // The hive asks every binary for its build flavour.
  for (const char* name : {"sd-worker-rbee", "sd-worker-cpu", "sd-worker-cuda", "sd-worker-metal"}) {
    const ProcessResult r = run_process({worker_binary(name), "--build-info"});
    CHECK(r.exit_code == 0);
    CHECK((r.out == "release\n" || r.out == "debug\n"));
  }

  // A device the build lacks: a clear error at start, not a worker that never becomes ready.
  if (!at::hasCUDA()) {
    // (--local-mode: the spawn form would otherwise ask for a token before it looks at the device)
    const ProcessResult r = run_process({worker_binary("sd-worker-cuda"), "--port", "0", "--local-mode"}, {}, kRbeeEnv);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("cuda:0") && Catch::Contains("not available"));
  }
}

TEST_CASE("the hive's spawn form through an install name answers GET / and /info", "[rbee][cli]") {
  // `sd-worker-cpu --worker-id .. --model demo --device 0 --port .. --queen-url ..`: the hive's
  // form, device index 0 meaning CUDA device 0 where the build has CUDA and the CPU here.
  const int nobody = free_port();
  WorkerProcess wp({"--worker-id", "worker-sd-cpu", "--model", "demo", "--device", "0", "--queen-url",
                    "http://127.0.0.1:" + std::to_string(nobody), "--heartbeat-interval", "30", "--quiet"},
                   {}, /*serve_word=*/false, WorkerProcess::WaitFor::ready, worker_binary("sd-worker-cpu"));
  const HttpReply root = http_get(wp.port(), "/");
  CHECK(root.status >= 200);
  CHECK(root.status < 300);
  const HttpReply info = http_get(wp.port(), "/info");
  REQUIRE(info.status == 200);
  CHECK(info.body["id"] == "worker-sd-cpu");
  CHECK(info.body["device"] == (at::hasCUDA() ? "cuda:0" : "cpu"));
  CHECK(wp.stop() == 0);
}

TEST_CASE("structured JSON logs and per-job narration with rbee's fields", "[rbee][cli]") {
  WorkerProcess wp({"--min-side", "64", "--worker-id", "worker-log"}, {{"LLORCH_LOG_FORMAT", "json"}});
  const HttpReply submit = post_json(wp.port(), demo_job(3), {{"X-Correlation-Id", "corr-1234"}});
  REQUIRE(submit.status == 200);
  const std::string id = submit.body["job_id"];
  const SseStream s = read_sse(wp.port(), "/v1/jobs/" + id + "/stream");
  REQUIRE(s.markers == std::vector<std::string>{"[DONE]"});

  // The stream: narrations for queued, started and completed, each with the rbee fields.
  std::vector<std::string> actions;
  for (const auto& e : s.named("narration")) {
    const json j = e.json();
    INFO(j.dump());
    for (const char* key : {"actor", "action", "target", "human", "job_id", "correlation_id"}) {
      REQUIRE(j.contains(key));
      CHECK(j[key].is_string());
      CHECK(!j[key].get<std::string>().empty());
    }
    CHECK(j["job_id"] == id);
    CHECK(j["correlation_id"] == "corr-1234");
    CHECK(j["emitted_at_ms"].get<int64_t>() > 1700000000000);
    actions.push_back(j["action"]);
  }
  CHECK(actions == std::vector<std::string>{"job_queued", "job_started", "job_completed"});
  // job_completed comes right before complete.
  const auto& ev = s.events;
  size_t complete_at = 0;
  for (size_t i = 0; i < ev.size(); ++i)
    if (ev[i].event == "complete") complete_at = i;
  REQUIRE(complete_at > 0);
  CHECK(ev[complete_at - 1].event == "narration");
  CHECK(ev[complete_at - 1].json()["action"] == "job_completed");
  CHECK_THAT(ev[complete_at - 1].json()["human"].get<std::string>(), Catch::Contains("Generated 1 image 64x64"));

  REQUIRE(wp.stop() == 0);
  // The log: one JSON object per line (besides the one human "listening" line on stdout).
  std::vector<json> records;
  for (const auto& line : lines_of(wp.log())) {
    if (line.rfind("sd-worker serve: listening", 0) == 0) continue;
    INFO(line);
    const json j = json::parse(line, nullptr, false);
    REQUIRE(!j.is_discarded());
    for (const char* key : {"timestamp", "level", "actor", "action", "target", "human", "emitted_at_ms"})
      CHECK(j.contains(key));
    CHECK(std::regex_match(j["timestamp"].get<std::string>(),
                           std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
    records.push_back(j);
  }
  auto has = [&](const std::string& actor, const std::string& action, const std::string& job) {
    for (const auto& r : records)
      if (r["actor"] == actor && r["action"] == action && (job.empty() || r.value("job_id", "") == job)) return true;
    return false;
  };
  CHECK(has("loader", "model_load", ""));
  CHECK(has("worker", "status", ""));
  CHECK(has("http", "listen", ""));
  // The listen record states the speed settings in force (the harness gives workers one thread).
  for (const auto& r : records)
    if (r["action"] == "listen")
      CHECK_THAT(r["human"].get<std::string>(), Catch::Contains("dtype fp32, 1 CPU threads, CUDA graphs on)"));
  CHECK(has("job_registry", "job_queued", id));
  CHECK(has("job_registry", "job_started", id));
  CHECK(has("job_registry", "job_completed", id));
  CHECK(has("sd-worker", "shutdown", ""));
  for (const auto& r : records)
    if (r.value("job_id", "") == id) CHECK(r["correlation_id"] == "corr-1234");
}

TEST_CASE("text logs (the default) carry the same records for people", "[rbee][cli]") {
  WorkerProcess wp({"--min-side", "64", "--quiet"}, {{"LLORCH_LOG_FORMAT", "text"}});
  const HttpReply submit = post_json(wp.port(), demo_job(2));
  REQUIRE(submit.status == 200);
  const std::string id = submit.body["job_id"];
  REQUIRE(wait_for_state(wp.port(), id, "completed") == "completed");
  REQUIRE(wp.stop() == 0);
  const std::regex completed(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z +INFO \[job_registry\] job_completed )" + id +
                             R"(: Generated 1 image 64x64 in \d+ ms.*)");
  bool found = false;
  for (const auto& line : lines_of(wp.log())) found = found || std::regex_match(line, completed);
  INFO(wp.log());
  CHECK(found);
}
