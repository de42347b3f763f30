// Shared helpers for the tests (see test_util.h).
#include "test_util.h"

#include "model/safetensors/diffusers_json.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

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

std::vector<std::string> child_environment(const EnvVars& set, const std::vector<std::string>& unset) {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    bool drop = false;
    for (const auto& [k, v] : set) drop = drop || kv.rfind(k + "=", 0) == 0;
    for (const auto& k : unset) drop = drop || kv.rfind(k + "=", 0) == 0;
    if (!drop) out.push_back(kv);
  }
  for (const auto& [k, v] : set) out.push_back(k + "=" + v);
  const std::string threads = "SDW_CPU_THREADS";
  bool named = std::getenv(threads.c_str()) != nullptr;
  for (const auto& [k, v] : set) named = named || k == threads;
  for (const auto& k : unset) named = named || k == threads;
  if (!named) out.push_back(threads + "=1");
  return out;
}

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int spawn_process(const std::vector<std::string>& argv, const EnvVars& env, int out_fd, int err_fd,
                  const std::vector<std::string>& unset) {
  std::vector<std::string> argv_s = argv, env_s = child_environment(env, unset);
  std::vector<char*> argv_p, env_p;
  for (auto& s : argv_s) argv_p.push_back(s.data());
  argv_p.push_back(nullptr);
  for (auto& s : env_s) env_p.push_back(s.data());
  env_p.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    execve(argv_p[0], argv_p.data(), env_p.data());
    _exit(127);
  }
  return pid;
}

ProcessResult run_process(const std::vector<std::string>& argv, const EnvVars& env, const std::vector<std::string>& unset) {
  char out_t[] = "/tmp/sdw-out-XXXXXX", err_t[] = "/tmp/sdw-err-XXXXXX";
  const int out_fd = mkstemp(out_t), err_fd = mkstemp(err_t);
  if (out_fd < 0 || err_fd < 0) throw std::runtime_error("mkstemp failed");
  const pid_t pid = spawn_process(argv, env, out_fd, err_fd, unset);
  ::close(out_fd);
  ::close(err_fd);
  int status = 0;
  waitpid(pid, &status, 0);
  ProcessResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out_t);
  r.err = slurp(err_t);
  std::remove(out_t);
  std::remove(err_t);
  return r;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "sdw-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int64_t status_bytes(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1)) * 1024;
  return -1;
}

bool reset_peak_rss() {
  std::ofstream("/proc/self/clear_refs") << "5";
  return status_bytes("VmHWM") <= status_bytes("VmRSS") + (1 << 20);
}

}  // namespace sdw::test
