// An `sd-worker node` child process for the distributed tests: started with its arguments and
// `--listen 127.0.0.1:0` (or a given port), ready once it prints its "listening on 127.0.0.1:PORT" line on stdout
// (read through a pipe with poll(), bounded), stderr into a log file. kill9() is the crash the
// tests inject; stop() ends it with SIGTERM. Header-only, like the other e2e helpers.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_util.h"  // spawn_process

namespace sdw::test {

class NodeProcess {
 public:
  // Throws std::runtime_error (with the node's log) when it exits or prints no listening line
  // within `timeout`.
  // `port`: listen on 127.0.0.1:<port> ("0": any free port). `env`: variables set for the node,
  // `unset`: variables removed from its environment.
  explicit NodeProcess(std::vector<std::string> args, std::chrono::seconds timeout = std::chrono::seconds(120),
                       const std::string& port = "0", const EnvVars& env = {}, const std::vector<std::string>& unset = {});
  ~NodeProcess();
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }
  const std::string& banner() const { return banner_; }  // the listening line
  bool alive();
  void kill9();
  int stop();
  std::string log() const;

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int port_ = 0;
  int exit_code_ = -1;
  std::string banner_;
  std::string log_path_;
};

inline NodeProcess::NodeProcess(std::vector<std::string> args, std::chrono::seconds timeout, const std::string& port,
                                const EnvVars& env, const std::vector<std::string>& unset) {
  char path[] = "/tmp/sdw-node-log-XXXXXX";
  const int log_fd = mkstemp(path);
  if (log_fd < 0) throw std::runtime_error("cannot create a node log file");
  log_path_ = path;
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> argv = {SDW_WORKER_BINARY, "node", "--listen", "127.0.0.1:" + port};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_ = spawn_process(argv, env, out[1], log_fd, unset);
  ::close(out[1]);
  ::close(log_fd);
  out_fd_ = out[0];
  // Bounded wait for the listening line: poll() on the pipe until it comes or the node exits.
  const std::string marker = "listening on 127.0.0.1:";
  const auto until = std::chrono::steady_clock::now() + timeout;
  std::string text;
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{out_fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) > 0) {
      char buf[512];
      const ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n > 0) text.append(buf, static_cast<size_t>(n));
      const auto at = text.find(marker);
      const auto eol = at == std::string::npos ? std::string::npos : text.find('\n', at);
      if (eol != std::string::npos) {
        port_ = std::stoi(text.substr(at + marker.size()));
        banner_ = text.substr(0, eol);
        return;
      }
      if (n == 0 && !alive()) break;
    } else if (!alive()) {
      break;
    }
  }
  const std::string why = "sd-worker node did not start: " + text + log();
  if (alive()) kill9();
  throw std::runtime_error(why);
}

inline NodeProcess::~NodeProcess() {
  stop();
  if (out_fd_ >= 0) ::close(out_fd_);
  if (!log_path_.empty()) std::remove(log_path_.c_str());
}

inline bool NodeProcess::alive() {
  if (pid_ <= 0 || exit_code_ >= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == 0) return true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return false;
}

inline void NodeProcess::kill9() {
  if (!alive()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_code_ = 128 + SIGKILL;
}

inline int NodeProcess::stop() {
  if (!alive()) return exit_code_;
  ::kill(pid_, SIGCONT);  // a test may have stopped it
  ::kill(pid_, SIGTERM);
  // Bounded: a node that does not stop within 30 s is killed (and the test sees 128 + 9).
  for (int i = 0; i < 1500; ++i) {
    pollfd none{-1, 0, 0};
    ::poll(&none, 0, 20);
    if (!alive()) return exit_code_;
  }
  kill9();
  return exit_code_;
}

inline std::string NodeProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace sdw::test
