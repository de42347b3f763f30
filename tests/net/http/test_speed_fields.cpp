// The `deepcache` and `tome` job fields (net/http/speed_fields.h): parsed into the request, absent
// when not sent, and every malformed value a 400 naming its nested field.
#include <catch.hpp>

#include <nlohmann/json.hpp>

#include "net/http/errors.h"
#include "net/http/operations.h"
#include "parse_options.h"

using namespace sdw;
using namespace sdw::net;
using nlohmann::json;

namespace {

ParseOptions options() { return test::demo_parse_options(); }

json body(const json& patch) {
  json b = {{"operation", "image_generation"}, {"hive_id", "hive-1"}, {"model", "demo"}, {"prompt", "a red fox"}};
  if (patch.is_object()) b.update(patch);
  return b;
}

}  // namespace

TEST_CASE("deepcache and tome job fields reach the request", "[http][operations]") {
  const GenerationRequest none = parse_job_request(body(json::object()), options()).submission.request;
  CHECK_FALSE(none.deepcache.has_value());
  CHECK_FALSE(none.tome.has_value());
  const GenerationRequest r =
      parse_job_request(body({{"deepcache", {{"interval", 3}, {"branch", 2}}}, {"tome", {{"ratio", 0.5}}}}), options())
          .submission.request;
  REQUIRE(r.deepcache.has_value());
  CHECK(r.deepcache->interval == 3);
  CHECK(r.deepcache->branch == 2);
  REQUIRE(r.tome.has_value());
  CHECK(r.tome->ratio == 0.5);
  const GenerationRequest d = parse_job_request(body({{"deepcache", {{"interval", 2}}}}), options()).submission.request;
  CHECK(d.deepcache->branch == 0);  // DeepCacheSDHelper's default cache_branch_id
}

TEST_CASE("malformed deepcache and tome fields are 400s naming the nested field", "[http][validation]") {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"deepcache", 2}}, "deepcache"},
      {{{"deepcache", json::object()}}, "deepcache.interval"},
      {{{"deepcache", {{"interval", -1}}}}, "deepcache.interval"},
      {{{"deepcache", {{"interval", 2.5}}}}, "deepcache.interval"},
      {{{"deepcache", {{"interval", 2}, {"branch", 64}}}}, "deepcache.branch"},
      {{{"deepcache", {{"interval", 2}, {"layer", 1}}}}, "deepcache.layer"},
      {{{"tome", 0.5}}, "tome"},
      {{{"tome", {{"ratio", 1.0}}}}, "tome.ratio"},
      {{{"tome", {{"ratio", -0.1}}}}, "tome.ratio"},
      {{{"tome", {{"ratio", "0.5"}}}}, "tome.ratio"},
      {{{"tome", {{"rate", 0.5}}}}, "tome.rate"},
  };
  for (const auto& [patch, field] : cases) {
    INFO(patch.dump());
    try {
      parse_job_request(body(patch), options());
      FAIL("accepted");
    } catch (const ApiError& e) {
      CHECK(e.status() == 400);
      CHECK(e.param() == field);
    }
  }
}
