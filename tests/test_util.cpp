// Shared helpers for the tests (see test_util.h).
#include "test_util.h"

#include "model/diffusers_json.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sdw::test {

std::string fixture(const std::string& relative) { return std::string(SDW_FIXTURES_DIR) + "/" + relative; }

Diff compare(const at::Tensor& actual, const at::Tensor& expected) {
  if (actual.sizes() != expected.sizes()) {
    std::ostringstream os;
    os << "shape mismatch: actual " << actual.sizes() << " expected " << expected.sizes();
    throw std::runtime_error(os.str());
  }
  at::Tensor a = actual.detach().to(at::kCPU, at::kDouble);
  at::Tensor e = expected.detach().to(at::kCPU, at::kDouble);
  at::Tensor d = (a - e).abs();
  Diff out;
  out.max_abs = d.numel() ? d.max().item<double>() : 0.0;
  out.max_rel = d.numel() ? (d / (e.abs() + 1e-3)).max().item<double>() : 0.0;
  out.ref_max_abs = e.numel() ? e.abs().max().item<double>() : 0.0;
  if (std::isnan(out.max_abs)) out.max_abs = out.max_rel = INFINITY;
  return out;
}

std::string describe(const std::string& what, const Diff& d) {
  std::ostringstream os;
  os << what << ": max_abs=" << d.max_abs << " max_rel=" << d.max_rel << " (ref max |x|=" << d.ref_max_abs << ")";
  return os.str();
}

nlohmann::json read_json(const std::string& path) { return read_diffusers_json_file(path); }

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "sdw-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace sdw::test
