// A FAKE Hugging Face HUB on loopback for the Hub tests (tests/net/hub/test_hub.cpp and the real
// binary's tests/e2e/test_hub_e2e.cpp): an httplib server speaking the Hub's URL scheme (revision
// API with sha + siblings, HEAD/GET resolve with X-Repo-Commit, ETag, X-Linked-Etag,
// X-Linked-Size, LFS files 302-redirected to a second server standing in for the CDN, Range
// requests, gated repos, X-Error-Code 404s) and fault injection (a connection cut after N bytes,
// corrupted bytes). Etags are computed here with OpenSSL exactly as the Hub computes them
// (SHA-256 of LFS content, git blob SHA-1 of other files). Header-only.
#pragma once

#include <httplib.h>
#include <openssl/evp.h>

#include <algorithm>
#include <catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "net/hub/hub_config.h"
#include "test_util.h"

namespace sdw::test::fake_hub {

namespace fs = std::filesystem;
using nlohmann::json;

inline const std::string kFixture = "pipelines/tiny-sd15";

inline std::string digest_hex(const EVP_MD* md, const std::string& bytes) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  REQUIRE(EVP_Digest(bytes.data(), bytes.size(), out, &n, md, nullptr) == 1);
  std::string hex;
  static const char* const kHex = "0123456789abcdef";
  for (unsigned int i = 0; i < n; ++i) hex += std::string{kHex[out[i] >> 4], kHex[out[i] & 15]};
  return hex;
}
inline std::string sha256(const std::string& bytes) { return digest_hex(EVP_sha256(), bytes); }
// git's blob id: sha1("blob <size>\0" + content), the Hub's ETag of a non-LFS file.
inline std::string git_sha1(const std::string& bytes) {
  return digest_hex(EVP_sha1(), "blob " + std::to_string(bytes.size()) + std::string(1, '\0') + bytes);
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

inline bool is_lfs(const std::string& path) {
  return path.size() > 12 && path.compare(path.size() - 12, 12, ".safetensors") == 0;
}
inline std::string etag_of(const std::string& path, const std::string& content) {
  return is_lfs(path) ? sha256(content) : git_sha1(content);
}

// Every file of a folder, by relative path.
inline std::map<std::string, std::string> folder_files(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[e.path().lexically_relative(dir).generic_string()] = read_file(e.path().string());
  return out;
}

struct FakeRepo {
  std::string commit;                        // 40 hex
  std::map<std::string, std::string> files;  // path -> content
  std::set<std::string> revisions{"main"};   // names that resolve to the commit (and the commit itself)
  bool gated = false;
};

inline FakeRepo make_repo(const std::string& seed, std::map<std::string, std::string> files) {
  FakeRepo r;
  r.commit = git_sha1("commit " + seed);
  r.files = std::move(files);
  return r;
}

struct Logged {
  std::string server, method, path, range, authorization;
};

// The fake Hub and its fake CDN: two httplib servers on 127.0.0.1, random ports.
class FakeHub {
 public:
  FakeHub() {
    hub_.Get(R"(/api/models/([^/]+)/([^/]+)/revision/(.+))", [this](const httplib::Request& q, httplib::Response& s) {
      record("hub", q);
      const FakeRepo* repo = find(q.matches[1].str() + "/" + q.matches[2].str(), q, s);
      if (!repo || !resolves(*repo, q.matches[3], s)) return;
      json siblings = json::array();
      for (const auto& f : repo->files) siblings.push_back({{"rfilename", f.first}});
      s.set_content(
          json{{"id", q.matches[1].str() + "/" + q.matches[2].str()}, {"sha", repo->commit}, {"siblings", siblings}}
              .dump(),
          "application/json");
    });
    hub_.Get(R"(/([^/]+)/([^/]+)/resolve/([^/]+)/(.+))", [this](const httplib::Request& q, httplib::Response& s) {
      record("hub", q);
      const FakeRepo* repo = find(q.matches[1].str() + "/" + q.matches[2].str(), q, s);
      if (!repo || !resolves(*repo, q.matches[3], s)) return;
      const auto it = repo->files.find(q.matches[4]);
      if (it == repo->files.end()) {
        s.status = 404;
        s.set_header("X-Error-Code", "EntryNotFound");
        return;
      }
      s.set_header("X-Repo-Commit", repo->commit);
      if (is_lfs(it->first)) {
        const std::string sha = sha256(it->second);
        // As the Hub's CDN URLs: a content disposition with quoted characters, a signature.
        s.set_redirect("http://127.0.0.1:" + std::to_string(cdn_port_) + "/cdn/" + sha +
                           "?response-content-disposition=attachment%3B+filename%3D%22" + q.matches[4].str() +
                           "%22%3B&Signature=Ab~c_d-e&Key-Pair-Id=K1",
                       302);
        s.set_header("X-Linked-Etag", "\"" + sha + "\"");
        s.set_header("X-Linked-Size", std::to_string(it->second.size()));
        s.set_header("ETag", "\"" + git_sha1(it->second) + "\"");
        return;
      }
      s.set_header("ETag", "\"" + git_sha1(it->second) + "\"");
      s.set_content(it->second, "application/octet-stream");
    });
    cdn_.Get(R"(/cdn/([0-9a-f]{64}))", [this](const httplib::Request& q, httplib::Response& s) {
      record("cdn", q);
      std::lock_guard<std::mutex> lock(mu_);
      const auto it = blobs_.find(q.matches[1]);
      if (it == blobs_.end() || q.get_param_value("Signature") != "Ab~c_d-e" ||
          q.get_param_value("response-content-disposition").rfind("attachment; filename=\"", 0) != 0) {
        s.status = 403;
        return;
      }
      auto content = std::make_shared<std::string>(it->second);
      if (corrupt_.count(it->first)) (*content)[content->size() / 2] ^= 0x55;
      size_t cut = std::string::npos;
      if (cut_.count(it->first)) {
        cut = cut_[it->first];
        cut_.erase(it->first);  // once
      }
      s.set_content_provider(content->size(), "application/octet-stream",
                             [content, cut](size_t offset, size_t length, httplib::DataSink& sink) {
                               if (offset >= cut) return false;  // drop the connection
                               size_t n = std::min<size_t>(length, 65536);
                               if (cut != std::string::npos) n = std::min(n, cut - offset);
                               sink.write(content->data() + offset, n);
                               return true;
                             });
    });
    hub_port_ = hub_.bind_to_any_port("127.0.0.1");
    cdn_port_ = cdn_.bind_to_any_port("127.0.0.1");
    REQUIRE(hub_port_ > 0);
    REQUIRE(cdn_port_ > 0);
    hub_thread_ = std::thread([this] { hub_.listen_after_bind(); });
    cdn_thread_ = std::thread([this] { cdn_.listen_after_bind(); });
  }
  ~FakeHub() { stop(); }

  void stop() {
    hub_.stop();
    cdn_.stop();
    if (hub_thread_.joinable()) hub_thread_.join();
    if (cdn_thread_.joinable()) cdn_thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(hub_port_); }

  void add(const std::string& repo_id, const FakeRepo& repo) {
    std::lock_guard<std::mutex> lock(mu_);
    repos_[repo_id] = repo;
    for (const auto& f : repo.files)
      if (is_lfs(f.first)) blobs_[sha256(f.second)] = f.second;
  }
  void cut_once(const std::string& sha, size_t after_bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    cut_[sha] = after_bytes;
  }
  void corrupt(const std::string& sha) {
    std::lock_guard<std::mutex> lock(mu_);
    corrupt_.insert(sha);
  }
  std::vector<Logged> log() const {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  void clear_log() {
    std::lock_guard<std::mutex> lock(mu_);
    log_.clear();
  }

  std::string token = "hf_fake_token";

 private:
  void record(const std::string& server, const httplib::Request& q) {
    std::lock_guard<std::mutex> lock(mu_);
    log_.push_back({server, q.method, q.path, q.get_header_value("Range"), q.get_header_value("Authorization")});
  }

  const FakeRepo* find(const std::string& id, const httplib::Request& q, httplib::Response& s) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = repos_.find(id);
    if (it == repos_.end()) {
      s.status = 404;
      s.set_header("X-Error-Code", "RepoNotFound");
      s.set_header("X-Error-Message", "Repository not found");
      return nullptr;
    }
    if (it->second.gated && q.get_header_value("Authorization") != "Bearer " + token) {
      s.status = 401;
      s.set_header("X-Error-Code", "GatedRepo");
      s.set_header("X-Error-Message", "Access to model " + id + " is restricted.");
      return nullptr;
    }
    return &it->second;
  }

  static bool resolves(const FakeRepo& repo, const std::string& revision, httplib::Response& s) {
    if (revision == repo.commit || repo.revisions.count(revision)) return true;
    s.status = 404;
    s.set_header("X-Error-Code", "RevisionNotFound");
    return false;
  }

  httplib::Server hub_, cdn_;
  int hub_port_ = 0, cdn_port_ = 0;
  std::thread hub_thread_, cdn_thread_;
  mutable std::mutex mu_;
  std::map<std::string, FakeRepo> repos_;
  std::map<std::string, std::string> blobs_;  // sha256 -> content
  std::map<std::string, size_t> cut_;
  std::set<std::string> corrupt_;
  std::vector<Logged> log_;
};

// The fixture pipeline, plus files a pipeline download must leave alone.
inline std::map<std::string, std::string> fixture_with_extras() {
  auto files = folder_files(test::fixture(kFixture));
  files["README.md"] = "# tiny-sd15\n";
  files[".gitattributes"] = "*.safetensors filter=lfs diff=lfs merge=lfs -text\n";
  files["v1-5-pruned-emaonly.safetensors"] = std::string(4096, 'w');  // a single-file checkpoint
  files["unet/diffusion_pytorch_model.bin"] = std::string(2048, 'p');
  files["vae/diffusion_pytorch_model.msgpack"] = std::string(1024, 'm');
  files["text_encoder/model.onnx"] = std::string(1024, 'o');
  files["safety_checker/model.safetensors"] = std::string(2048, 's');
  files["safety_checker/config.json"] = "{}";
  return files;
}

// A Hub client configuration for `hub`: its endpoint, the cache in `cache_dir`, no waits between
// retries, short timeouts.
inline net::HubConfig fake_hub_config(const FakeHub& hub, const std::string& cache_dir) {
  net::HubConfig c;
  c.endpoint = hub.endpoint();
  c.cache_dir = cache_dir;
  c.retry_delay = std::chrono::milliseconds(0);
  c.connect_timeout = std::chrono::milliseconds(2000);
  c.metadata_timeout = c.download_timeout = std::chrono::milliseconds(5000);
  return c;
}

}  // namespace sdw::test::fake_hub
