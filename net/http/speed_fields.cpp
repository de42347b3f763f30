// The `deepcache` and `tome` job fields (see speed_fields.h).
#include "net/http/speed_fields.h"

#include <initializer_list>
#include <string>

#include "net/http/errors.h"

namespace sdw::net {
namespace {

// The object at `name` read by its nested fields' full names ("deepcache.interval"), so errors
// name them; unknown keys are refused.
nlohmann::json flat_object(const nlohmann::json& object, const std::string& name, std::initializer_list<const char*> keys,
                           const std::string& shape) {
  if (!object.is_object()) throw invalid_field(name, name + " must be an object " + shape + ", got " + json_type(object));
  nlohmann::json flat = nlohmann::json::object();
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (const char* k : keys) known = known || key == k;
    if (!known) throw invalid_field(name + "." + key, name + ": unknown field '" + key + "'");
    flat[name + "." + key] = value;
  }
  return flat;
}

}  // namespace

void parse_speed_fields(const FieldReader& fields, GenerationRequest& r) {
  if (const auto* dc = fields.get("deepcache")) {
    const nlohmann::json flat = flat_object(*dc, "deepcache", {"interval", "branch"}, "{\"interval\": N, \"branch\": B}");
    const FieldReader f(flat);
    if (!f.has("deepcache.interval")) throw invalid_field("deepcache.interval", "deepcache.interval is required");
    DeepCacheOptions o;
    o.interval = f.integer("deepcache.interval", 0, 0, 1000);
    o.branch = f.integer("deepcache.branch", 0, 0, 63);  // the model's own limit is checked when the job runs
    r.deepcache = o;
  }
  if (const auto* tome = fields.get("tome")) {
    const nlohmann::json flat = flat_object(*tome, "tome", {"ratio"}, "{\"ratio\": R}");
    const FieldReader f(flat);
    if (!f.has("tome.ratio")) throw invalid_field("tome.ratio", "tome.ratio is required");
    r.tome = TomeOptions{f.number("tome.ratio", 0.0, 0.0, 0.95)};
  }
}

}  // namespace sdw::net
