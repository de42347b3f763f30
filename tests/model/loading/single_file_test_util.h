// Helpers of the single-file checkpoint tests (tests/model/loading/test_single_file.cpp and the real
// binary's tests/e2e/test_single_file_e2e.cpp): the fixtures' tiny single files and their diffusers
// folders, loading them, and the seeded cases of tests/fixtures/seeded/cases.json. Header-only.
#pragma once

#include <catch.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "model/loading/state_dict.h"
#include "model/pipeline/sd_model.h"
#include "test_util.h"

namespace sdw::test::single_file_util {

inline std::string single_file(const std::string& name) { return test::fixture("single_file/" + name + ".safetensors"); }
inline std::string folder(const std::string& name) { return test::fixture("pipelines/" + name); }

inline nlohmann::json seeded_case(const std::string& id) {
  const auto cases = test::read_json(test::fixture("seeded/cases.json"));
  for (const auto& c : cases["cases"])
    if (c["id"] == id) return c;
  FAIL("no seeded case " << id);
  return {};
}

// The loader's error message for a single file, "" when it loads.
inline std::string load_error(const std::string& path, const std::string& config_dir = "", const std::string& vae = "") {
  ModelLoadOptions o;
  o.config_dir = config_dir;
  o.vae_file = vae;
  try {
    load_single_file_model(path, o);
  } catch (const LoadError& e) {
    return e.what();
  }
  return "";
}

// A fixture single file loaded with its folder's configs (and `vae`, if given).
inline std::shared_ptr<SdModel> load_single(const std::string& name, const std::string& vae = "") {
  ModelLoadOptions o;
  o.config_dir = folder(name);
  o.vae_file = vae;
  return load_single_file_model(single_file(name), o);
}

}  // namespace sdw::test::single_file_util
