// JSON values against OpenAPI 3.1 schemas (see openapi_check.h).
#include "e2e/openapi_check.h"

#include <cmath>
#include <regex>
#include <set>
#include <stdexcept>

namespace sdw::test {
namespace {

using nlohmann::json;

const std::set<std::string>& known_keywords() {
  static const std::set<std::string> k = {
      "$ref", "type", "enum", "const", "properties", "required", "additionalProperties", "items", "oneOf", "anyOf",
      "allOf", "minimum", "maximum", "exclusiveMinimum", "minLength", "maxLength", "pattern", "multipleOf",
      // annotations
      "description", "default", "examples", "format", "contentEncoding", "discriminator", "title"};
  return k;
}

bool has_type(const json& v, const std::string& type) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_boolean();
  if (type == "null") return v.is_null();
  if (type == "integer") return v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
  if (type == "number") return v.is_number();
  return false;
}

// UTF-8 code points (JSON Schema lengths count characters).
size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

void collect_refs(const json& node, std::vector<std::string>& out) {
  if (node.is_object()) {
    for (const auto& [k, v] : node.items()) {
      if (k == "$ref" && v.is_string()) out.push_back(v.get<std::string>());
      else collect_refs(v, out);
    }
  } else if (node.is_array()) {
    for (const auto& v : node) collect_refs(v, out);
  }
}

}  // namespace

OpenApiCheck::OpenApiCheck(json document) : doc_(std::move(document)) {}

const json& OpenApiCheck::resolve(const std::string& ref) const {
  if (ref.rfind("#/", 0) != 0) throw std::out_of_range("not a local reference: " + ref);
  return doc_.at(json::json_pointer(ref.substr(1)));
}

std::vector<std::string> OpenApiCheck::all_refs() const {
  std::vector<std::string> out;
  collect_refs(doc_, out);
  return out;
}

std::vector<std::string> OpenApiCheck::problems_of_component(const json& value, const std::string& name) const {
  return problems(value, json{{"$ref", "#/components/schemas/" + name}});
}

const json* OpenApiCheck::response(const std::string& path, const std::string& method, int status) const {
  const json* op = nullptr;
  try {
    op = &doc_.at("paths").at(path).at(method);
  } catch (const json::exception&) {
    return nullptr;
  }
  const auto responses = op->find("responses");
  if (responses == op->end()) return nullptr;
  const auto it = responses->find(std::to_string(status));
  if (it == responses->end()) return nullptr;
  return it->contains("$ref") ? &resolve((*it)["$ref"]) : &*it;
}

std::vector<std::string> OpenApiCheck::problems(const json& v, const json& schema, const std::string& where) const {
  std::vector<std::string> out;
  auto fail = [&](const std::string& what) { out.push_back(where + ": " + what); };
  auto add = [&](std::vector<std::string> more) { out.insert(out.end(), more.begin(), more.end()); };
  if (schema.is_boolean()) {
    if (!schema.get<bool>()) fail("no value is allowed here");
    return out;
  }
  if (!schema.is_object()) {
    fail("schema is not an object");
    return out;
  }
  for (const auto& [k, _] : schema.items())
    if (!known_keywords().count(k)) fail("schema keyword '" + k + "' is not checked by this validator");

  if (const auto ref = schema.find("$ref"); ref != schema.end()) {
    try {
      add(problems(v, resolve(*ref), where));
    } catch (const std::exception&) {
      fail("dangling $ref " + ref->dump());
    }
  }
  if (const auto t = schema.find("type"); t != schema.end()) {
    bool any = false;
    if (t->is_array()) {
      for (const auto& one : *t) any = any || has_type(v, one.get<std::string>());
    } else {
      any = has_type(v, t->get<std::string>());
    }
    if (!any) {
      fail("expected type " + t->dump() + ", got " + v.dump().substr(0, 80));
      return out;  // the rest would only repeat it
    }
  }
  if (const auto e = schema.find("enum"); e != schema.end()) {
    bool found = false;
    for (const auto& x : *e) found = found || x == v;
    if (!found) fail(v.dump().substr(0, 80) + " is not one of " + e->dump());
  }
  if (const auto c = schema.find("const"); c != schema.end() && *c != v)
    fail("expected " + c->dump() + ", got " + v.dump().substr(0, 80));
  if (v.is_number()) {
    const double x = v.get<double>();
    if (const auto m = schema.find("minimum"); m != schema.end() && x < m->get<double>()) fail(v.dump() + " < minimum " + m->dump());
    if (const auto m = schema.find("maximum"); m != schema.end() && x > m->get<double>()) fail(v.dump() + " > maximum " + m->dump());
    if (const auto m = schema.find("exclusiveMinimum"); m != schema.end() && x <= m->get<double>())
      fail(v.dump() + " <= exclusiveMinimum " + m->dump());
    if (const auto m = schema.find("multipleOf"); m != schema.end() && std::fmod(x, m->get<double>()) != 0)
      fail(v.dump() + " is not a multiple of " + m->dump());
  }
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (const auto m = schema.find("minLength"); m != schema.end() && code_points(s) < m->get<size_t>()) fail("shorter than minLength " + m->dump());
    if (const auto m = schema.find("maxLength"); m != schema.end() && code_points(s) > m->get<size_t>()) fail("longer than maxLength " + m->dump());
    if (const auto p = schema.find("pattern"); p != schema.end() && !std::regex_search(s, std::regex(p->get<std::string>())))
      fail("'" + s.substr(0, 80) + "' does not match " + p->dump());
  }
  if (v.is_object()) {
    const json props = schema.value("properties", json::object());
    const json required = schema.value("required", json::array());
    for (const auto& r : required)
      if (!v.contains(r.get<std::string>())) fail("missing required property '" + r.get<std::string>() + "'");
    for (const auto& [k, x] : v.items()) {
      if (props.contains(k)) {
        add(problems(x, props[k], where + "." + k));
      } else if (const auto extra = schema.find("additionalProperties"); extra != schema.end()) {
        if (extra->is_boolean() && !extra->get<bool>()) fail("property '" + k + "' is not in the document");
        else if (extra->is_object()) add(problems(x, *extra, where + "." + k));
      }
    }
  }
  if (v.is_array()) {
    if (const auto items = schema.find("items"); items != schema.end())
      for (size_t i = 0; i < v.size(); ++i) add(problems(v[i], *items, where + "[" + std::to_string(i) + "]"));
  }
  if (const auto all = schema.find("allOf"); all != schema.end())
    for (const auto& s : *all) add(problems(v, s, where));
  if (const auto any = schema.find("anyOf"); any != schema.end()) {
    bool ok = false;
    for (const auto& s : *any) ok = ok || problems(v, s, where).empty();
    if (!ok) fail("matches none of anyOf");
  }
  if (const auto one = schema.find("oneOf"); one != schema.end()) {
    int matches = 0;
    std::vector<std::string> why;
    for (const auto& s : *one) {
      auto p = problems(v, s, where);
      if (p.empty()) ++matches;
      else why.insert(why.end(), p.begin(), p.end());
    }
    if (matches != 1) {
      fail("matches " + std::to_string(matches) + " of oneOf's " + std::to_string(one->size()) + " schemas");
      if (matches == 0) add(why);
    }
  }
  return out;
}

}  // namespace sdw::test
