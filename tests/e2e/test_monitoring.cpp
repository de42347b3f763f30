// The monitoring files in config/monitoring against the real worker: every metric name the
// Prometheus config, the alert rules and the Grafana dashboard use is one `GET /metrics`
// exports (histograms through their _bucket/_sum/_count series), the alerts an operator needs
// are there, and the dashboard is JSON with a query in every panel.
#include <catch.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "e2e/http_harness.h"
#include "test_util.h"

using namespace sdw::test;

namespace {

const std::string kDir = std::string(SDW_E2E_DIR) + "/../../config/monitoring/";

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::set<std::string> metric_names(const std::string& text) {
  std::set<std::string> out;
  const std::regex name(R"(\bsdw_[a-z_]+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator(); ++it) {
    std::string n = it->str();
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (n.size() > s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0) n = n.substr(0, n.size() - s.size());
    }
    out.insert(n);
  }
  return out;
}

}  // namespace

TEST_CASE("the monitoring files use only metrics the worker exports", "[monitoring]") {
  WorkerProcess w({"--model", "demo", "--min-side", "64"});
  // One job, so that the per-job series exist too.
  const HttpReply job = post_json(w.port(), demo_job(1));
  REQUIRE(job.status == 200);
  read_sse(w.port(), "/v1/jobs/" + job.body["job_id"].get<std::string>() + "/stream");
  const HttpReply metrics = http_get(w.port(), "/metrics");
  REQUIRE(metrics.status == 200);
  std::set<std::string> exported;
  const std::regex type_line(R"(# TYPE (sdw_[a-z_]+) )");
  for (auto it = std::sregex_iterator(metrics.raw.begin(), metrics.raw.end(), type_line); it != std::sregex_iterator(); ++it)
    exported.insert((*it)[1].str());
  REQUIRE(exported.size() > 5);

  const std::string alerts = read_text(kDir + "sd-worker-alerts.yml");
  const std::string dashboard = read_text(kDir + "grafana-dashboard.json");
  std::set<std::string> used = metric_names(alerts);
  for (const auto& n : metric_names(dashboard)) used.insert(n);
  CHECK(used.size() >= 8);
  for (const auto& n : used) {
    INFO(n);
    CHECK(exported.count(n) == 1);
  }
  for (const char* alert : {"SdWorkerDown", "SdWorkerQueueFull", "SdWorkerJobErrorRate", "SdWorkerSlowSteps"})
    CHECK_THAT(alerts, Catch::Contains(std::string("alert: ") + alert));
  CHECK_THAT(read_text(kDir + "prometheus.yml"), Catch::Contains("sd-worker-alerts.yml") && Catch::Contains("metrics_path: /metrics"));

  const nlohmann::json dash = nlohmann::json::parse(dashboard);
  REQUIRE(dash["panels"].size() >= 8);
  for (const auto& p : dash["panels"]) {
    INFO(p["title"]);
    REQUIRE(!p["targets"].empty());
    for (const auto& t : p["targets"]) CHECK_THAT(t["expr"].get<std::string>(), Catch::Contains("sdw_"));
  }
}
