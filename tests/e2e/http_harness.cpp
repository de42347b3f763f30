// End-to-end HTTP test harness (see http_harness.h).
#include "e2e/http_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>


namespace sdw::test {
namespace {

std::unique_ptr<httplib::Client> make_client(int port, int read_timeout_s) {
  auto cli = std::make_unique<httplib::Client>("127.0.0.1", port);
  cli->set_connection_timeout(5, 0);
  cli->set_read_timeout(read_timeout_s, 0);
  cli->set_write_timeout(30, 0);
  return cli;
}

HttpReply to_reply(const httplib::Result& res) {
  HttpReply r;
  if (!res) return r;
  r.status = res->status;
  r.raw = res->body;
  r.headers = res->headers;
  if (res->get_header_value("Content-Type").find("application/json") != std::string::npos) {
    r.body = nlohmann::json::parse(r.raw, nullptr, false);
    if (r.body.is_discarded()) r.body = nullptr;
  }
  return r;
}

bool is_marker(const std::string& data) {
  return data.rfind("[DONE]", 0) == 0 || data.rfind("[ERROR]", 0) == 0 || data.rfind("[CANCELLED]", 0) == 0;
}

// Incremental SSE parser (the subset the worker sends: id, event, data, comments).
class SseParser {
 public:
  SseParser(SseStream& out, std::function<bool(const SseEvent&)> on_event) : out_(out), on_event_(std::move(on_event)) {}

  bool feed(const char* data, size_t n) {
    buffer_.append(data, n);
    size_t nl;
    while ((nl = buffer_.find('\n')) != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!handle(line)) return false;
    }
    return true;
  }

 private:
  bool handle(const std::string& line) {
    if (line.empty()) return dispatch();
    if (!out_.markers.empty()) out_.data_after_marker = true;
    if (line[0] == ':') {
      if (line.find("keep-alive") != std::string::npos) {
        ++out_.keepalives;
        if (out_.named("progress").empty()) ++out_.keepalives_before_progress;
      }
      if (on_event_ && !on_event_(SseEvent{"", ":", line})) {
        out_.dropped = true;
        return false;
      }
      return true;
    }
    const auto colon = line.find(':');
    const std::string field = line.substr(0, colon);
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    if (field == "data") {
      if (has_data_) current_.data += "\n";
      current_.data += value;
      has_data_ = true;
    } else if (field == "event") {
      current_.event = value;
    } else if (field == "id") {
      current_.id = value;
    }
    return true;
  }

  bool dispatch() {
    if (!has_data_) {
      current_ = SseEvent{};
      return true;
    }
    SseEvent e = std::move(current_);
    current_ = SseEvent{};
    has_data_ = false;
    if (e.event.empty() && is_marker(e.data)) out_.markers.push_back(e.data);
    out_.events.push_back(e);
    if (on_event_ && !on_event_(e)) {
      out_.dropped = true;
      return false;
    }
    return true;
  }

  SseStream& out_;
  std::function<bool(const SseEvent&)> on_event_;
  std::string buffer_;
  SseEvent current_;
  bool has_data_ = false;
};

}  // namespace

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string worker_binary(const std::string& install_name) {
  std::string b = SDW_WORKER_BINARY;
  if (install_name.empty()) return b;
  return b.substr(0, b.find_last_of('/') + 1) + install_name;
}

WorkerProcess::WorkerProcess(std::vector<std::string> args, std::vector<std::pair<std::string, std::string>> env,
                             bool serve_word, WaitFor wait_for, std::string binary, bool loopback_host)
    : binary_(binary.empty() ? std::string(SDW_WORKER_BINARY) : std::move(binary)), loopback_host_(loopback_host) {
  char tmpl[] = "/tmp/sdw-http-XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  ::close(fd);
  log_path_ = tmpl;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (start(args, env, serve_word, wait_for)) return;
  }
  throw std::runtime_error("sd-worker serve did not become ready; log:\n" + log());
}

WorkerProcess::~WorkerProcess() {
  if (pid_ > 0 && alive()) stop(std::chrono::seconds(30));
  if (!log_path_.empty()) std::remove(log_path_.c_str());
}

bool WorkerProcess::start(const std::vector<std::string>& args,
                          const std::vector<std::pair<std::string, std::string>>& env, bool serve_word,
                          WaitFor wait_for) {
  port_ = free_port();
  std::vector<std::string> argv_s = {binary_};
  if (serve_word) argv_s.push_back("serve");
  if (loopback_host_) argv_s.insert(argv_s.end(), {"--host", "127.0.0.1"});
  argv_s.insert(argv_s.end(), {"--port", std::to_string(port_)});
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  const int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) throw std::runtime_error("cannot open the worker log " + log_path_);
  const pid_t pid = spawn_process(argv_s, env, fd, fd);
  ::close(fd);
  pid_ = pid;
  exit_code_ = -1;
  return wait_ready(600, wait_for);
}

bool WorkerProcess::alive() {
  if (pid_ <= 0 || exit_code_ >= 0) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return false;
}

bool WorkerProcess::wait_ready(int tries, WaitFor wait_for) {
  // Bounded polling: /health answers once the server listens, /ready once the model is loaded.
  bool healthy = false;
  for (int i = 0; i < tries; ++i) {
    if (!alive()) return false;
    const HttpReply r = http_get(port_, healthy ? "/ready" : "/health");
    if (wait_for == WaitFor::listening && r.status != 0) return true;
    if (r.status == 200) {
      if (healthy) return true;
      healthy = true;
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

int WorkerProcess::stop(std::chrono::seconds timeout) {
  if (!alive()) return exit_code_;
  ::kill(pid_, SIGTERM);
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (!alive()) return exit_code_;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_code_ = 128 + SIGKILL;
  return exit_code_;
}

std::string WorkerProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

httplib::Client WorkerProcess::client(int read_timeout_s) const {
  httplib::Client cli("127.0.0.1", port_);
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(read_timeout_s, 0);
  return cli;
}

int64_t WorkerProcess::rss_bytes() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return -1;
}

std::string HttpReply::header(const std::string& key) const {
  auto it = headers.find(key);
  return it == headers.end() ? std::string() : it->second;
}

HttpReply http_get(int port, const std::string& path, const httplib::Headers& headers) {
  return to_reply(make_client(port, 60)->Get(path.c_str(), headers));
}

HttpReply http_delete(int port, const std::string& path, const httplib::Headers& headers) {
  return to_reply(make_client(port, 60)->Delete(path.c_str(), headers));
}

HttpReply http_post(int port, const std::string& path, const std::string& body, const std::string& content_type,
                    const httplib::Headers& headers) {
  return to_reply(make_client(port, 60)->Post(path.c_str(), headers, body, content_type.c_str()));
}

HttpReply post_json(int port, const nlohmann::json& body, const httplib::Headers& headers) {
  return http_post(port, "/v1/jobs", body.dump(), "application/json", headers);
}

std::string raw_exchange(int port, const std::string& bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    // Read one response (headers, then Content-Length bytes). No half-close: the server may
    // answer before it has read everything, and closing with unread data resets the connection.
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
      out.append(buf, static_cast<size_t>(n));
      const auto end = out.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      const auto cl = out.find("Content-Length: ");
      const size_t length = cl == std::string::npos || cl > end ? 0 : std::stoul(out.substr(cl + 16));
      if (out.size() >= end + 4 + length) break;
    }
  }
  ::close(fd);
  return out;
}

nlohmann::json SseEvent::json() const {
  if (event.empty() && is_marker(data)) return nullptr;
  return nlohmann::json::parse(data, nullptr, false);
}

std::vector<SseEvent> SseStream::named(const std::string& name) const {
  std::vector<SseEvent> out;
  for (const auto& e : events)
    if (e.event == name) out.push_back(e);
  return out;
}

SseStream read_sse(int port, const std::string& path, const httplib::Headers& headers,
                   std::function<bool(const SseEvent&)> on_event, int timeout_s) {
  SseStream s;
  SseParser parser(s, std::move(on_event));
  auto cli = make_client(port, timeout_s);
  cli->Get(
      path.c_str(), headers,
      [&](const httplib::Response& r) {
        s.status = r.status;
        s.content_type = r.get_header_value("Content-Type");
        return true;
      },
      [&](const char* data, size_t n) {
        s.raw.append(data, n);
        return parser.feed(data, n);
      });
  return s;
}

nlohmann::json demo_job(int steps, uint64_t seed) {
  return {{"operation", "image_generation"},
          {"hive_id", "test-hive"},
          {"model", "demo"},
          {"prompt", "a lighthouse at dusk"},
          {"width", 64},
          {"height", 64},
          {"steps", steps},
          {"guidance_scale", 7.5},
          {"seed", seed}};
}

std::string wait_for_state(int port, const std::string& job_id, const std::string& state, int tries,
                           const httplib::Headers& headers) {
  std::string last;
  for (int i = 0; i < tries; ++i) {
    const HttpReply r = http_get(port, "/v1/jobs/" + job_id, headers);
    if (r.status == 200 && r.body.is_object()) {
      last = r.body.value("state", "");
      if (last == state || last == "completed" || last == "failed" || last == "cancelled") return last;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return last;
}

}  // namespace sdw::test
