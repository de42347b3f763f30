// Checks JSON values against an OpenAPI 3.1 document's schemas (the JSON Schema subset the
// worker's document uses: $ref, type, enum, const, properties, required, additionalProperties,
// items, oneOf, anyOf, allOf, minimum, maximum, exclusiveMinimum, minLength, maxLength, pattern,
// multipleOf). A keyword outside that subset is reported as a problem, never skipped, so the
// document cannot grow constraints that no test checks. Annotations (description, default,
// examples, format, contentEncoding, discriminator) are ignored. Used by test_openapi_e2e.cpp.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sdw::test {

class OpenApiCheck {
 public:
  explicit OpenApiCheck(nlohmann::json document);

  const nlohmann::json& document() const { return doc_; }
  // What is wrong with `value` against `schema` (which may be a $ref); empty when it conforms.
  // Problems name where they are ("$.data[0].status: ...").
  std::vector<std::string> problems(const nlohmann::json& value, const nlohmann::json& schema,
                                    const std::string& where = "$") const;
  std::vector<std::string> problems_of_component(const nlohmann::json& value, const std::string& name) const;
  // The document's response object for a path template ("/v1/jobs/{job_id}"), method ("get")
  // and status (200), $ref resolved; nullptr when the document does not list that status.
  const nlohmann::json* response(const std::string& path, const std::string& method, int status) const;
  // `#/components/...` -> the node; throws std::out_of_range for a dangling reference.
  const nlohmann::json& resolve(const std::string& ref) const;
  // Every "$ref" anywhere in the document, for a check that each resolves.
  std::vector<std::string> all_refs() const;

 private:
  nlohmann::json doc_;
};

}  // namespace sdw::test
