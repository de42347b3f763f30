// The Hub client: revision listing, file selection, cache reuse, offline fallback (see hub_client.h).
#include "net/hub/hub_client.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "net/hub/hub_cache.h"
#include "net/hub/hub_http.h"
#include "net/hub/hub_selection.h"

namespace fs = std::filesystem;

namespace sdw::net {
namespace {

constexpr int kMetadataAttempts = 3;
constexpr int64_t kNoteBytes = 1 << 20;  // smaller files download without a line of their own

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw HubError(HubErrc::io, "cannot read '" + path + "'");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw HubError(HubErrc::unsupported, "'" + path + "' is not valid JSON: " + e.what());
  }
}

// huggingface_hub's _normalize_etag: no weak prefix, no quotes.
std::string normalize_etag(std::string etag) {
  if (etag.rfind("W/", 0) == 0) etag = etag.substr(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return etag;
}

bool is_safe_blob_name(const std::string& etag) {
  if (etag.empty() || etag.size() > 256 || etag == "." || etag == "..") return false;
  for (char c : etag)
    if (c == '/' || c == '\\' || c == '\0' || std::iscntrl(static_cast<unsigned char>(c))) return false;
  return true;
}

int64_t parse_size(const std::string& v) {
  try {
    return v.empty() ? -1 : std::stoll(v);
  } catch (const std::exception&) {
    return -1;
  }
}

std::string format_bytes(int64_t n) {
  char buf[32];
  if (n < 0) return "size unknown";
  if (n >= (int64_t{1} << 30))
    std::snprintf(buf, sizeof buf, "%.2f GB", n / 1073741824.0);
  else if (n >= (1 << 20))
    std::snprintf(buf, sizeof buf, "%.1f MB", n / 1048576.0);
  else
    std::snprintf(buf, sizeof buf, "%.1f kB", n / 1024.0);
  return buf;
}

bool transient(const HubResponse& r) { return r.status == 0 || r.status == 429 || r.status >= 500; }

std::string describe_failure(const HubResponse& r) {
  return r.status == 0 ? r.error : "HTTP " + std::to_string(r.status);
}

}  // namespace

HubClient::HubClient(HubConfig config) : config_(std::move(config)), http_(config_) {}

std::string HubClient::download_pipeline(const HubReference& reference, const HubDownloadOptions& options) const {
  if (!parse_hub_reference(reference.repo_id + "@" + reference.revision))
    throw HubError(HubErrc::invalid_reference,
                   "'" + reference.to_string() + "' is not a Hugging Face model reference (org/name[@revision])");
  if (config_.cache_dir.empty())
    throw HubError(HubErrc::io, "no Hugging Face cache folder (set HF_HOME or HF_HUB_CACHE)");
  if (config_.offline) return from_cache(reference, options, "HF_HUB_OFFLINE is set, so nothing can be downloaded");
  if (is_commit_hash(reference.revision)) {
    // A commit never changes: a complete snapshot of it needs no request at all.
    try {
      return from_cache(reference, options, "");
    } catch (const HubError&) {
    }
  }
  std::string cached_snapshot;
  const auto listed = list_or_cached(
      reference, [&](const std::string& why) { return from_cache(reference, options, why); }, &cached_snapshot);
  if (!listed) return cached_snapshot;
  const Listing& listing = *listed;
  const HubRepoCache cache(config_.cache_dir, reference.repo_id);
  const std::string& commit = listing.commit;
  if (commit != reference.revision && options.note)
    options.note("revision '" + reference.revision + "' is commit " + commit);
  const std::set<std::string> in_repo(listing.files.begin(), listing.files.end());
  if (!in_repo.count("model_index.json"))
    throw HubError(HubErrc::unsupported,
                   "'" + reference.to_string() +
                       "' has no model_index.json: not a diffusers pipeline (a single-file checkpoint "
                       "has to be downloaded and passed as a .safetensors file)");
  int64_t fetched = fetch_file(reference, commit, "model_index.json", options);
  int files = fetched > 0 ? 1 : 0;
  auto fetch = [&](const std::string& path) {
    const int64_t n = fetch_file(reference, commit, path, options);
    fetched += n;
    files += n > 0 ? 1 : 0;
  };
  const std::string snapshot = cache.snapshot_dir(commit);
  const PipelineFiles plan = select_pipeline_files(read_json(snapshot + "/model_index.json"), listing.files,
                                                   options.variant, reference.to_string());
  for (const auto& file : plan.files) fetch(file);
  for (const auto& index : plan.shard_indexes) {
    for (const auto& shard : shard_files(read_json(snapshot + "/" + index), index)) {
      if (!in_repo.count(shard))
        throw HubError(HubErrc::entry_not_found, "'" + index + "' of '" + reference.to_string() +
                                                     "' names the shard '" + shard +
                                                     "', which the repository does not have");
      fetch(shard);
    }
  }
  if (reference.revision != commit) cache.write_ref(reference.revision, commit);
  if (options.note)
    options.note(files > 0 ? "downloaded " + std::to_string(files) + (files == 1 ? " file (" : " files (") +
                                 format_bytes(fetched) + ") into " + snapshot
                           : "every file was already in the cache: " + snapshot);
  return snapshot;
}

std::string HubClient::download_file(const HubFileReference& file, const HubDownloadOptions& options) const {
  const HubReference& reference = file.repo;
  if (!is_safe_repo_path(file.path))
    throw HubError(HubErrc::invalid_reference, "'" + file.to_string() + "': not a file path inside a repository");
  if (config_.cache_dir.empty()) throw HubError(HubErrc::io, "no Hugging Face cache folder (set HF_HOME or HF_HUB_CACHE)");
  const HubRepoCache cache(config_.cache_dir, reference.repo_id);
  auto cached = [&](const std::string& reason) {
    const auto commit = cache.cached_commit(reference.revision);
    if (!commit || !cache.has_file(*commit, file.path))
      throw HubError(HubErrc::not_cached, "'" + file.to_string() + "' is not in the cache (" + cache.root() + ")" +
                                              (reason.empty() ? "" : "; " + reason));
    return cache.snapshot_dir(*commit) + "/" + file.path;
  };
  if (config_.offline) return cached("HF_HUB_OFFLINE is set, so nothing can be downloaded");
  if (is_commit_hash(reference.revision) && cache.has_file(reference.revision, file.path))
    return cache.snapshot_dir(reference.revision) + "/" + file.path;
  std::string cached_path;
  const auto listed = list_or_cached(reference, cached, &cached_path);
  if (!listed) return cached_path;
  const Listing& listing = *listed;
  if (std::find(listing.files.begin(), listing.files.end(), file.path) == listing.files.end())
    throw HubError(HubErrc::entry_not_found, "'" + reference.to_string() + "' has no file '" + file.path + "'");
  fetch_file(reference, listing.commit, file.path, options);
  if (reference.revision != listing.commit) cache.write_ref(reference.revision, listing.commit);
  return cache.snapshot_dir(listing.commit) + "/" + file.path;
}

std::optional<HubClient::Listing> HubClient::list_or_cached(
    const HubReference& reference, const std::function<std::string(const std::string&)>& cached,
    std::string* from_cache) const {
  try {
    return list_revision(reference);
  } catch (const HubError& e) {
    if (e.code() != HubErrc::network) throw;
    try {
      *from_cache = cached(e.what());  // e.what(): "cannot reach {endpoint} (...)"
      return std::nullopt;
    } catch (const HubError& c) {
      if (c.code() == HubErrc::not_cached) throw HubError(HubErrc::network, c.what());
      throw;
    }
  }
}

HubClient::Listing HubClient::list_revision(const HubReference& reference) const {
  const std::string url =
      config_.endpoint + "/api/models/" + reference.repo_id + "/revision/" + url_quote(reference.revision, false);
  HubResponse r;
  auto delay = config_.retry_delay;
  for (int attempt = 1; attempt <= kMetadataAttempts; ++attempt) {
    r = http_.get(url);
    if (!transient(r)) break;
    if (attempt < kMetadataAttempts && delay.count() > 0) std::this_thread::sleep_for(delay);
    delay *= 2;
  }
  if (transient(r))
    throw HubError(HubErrc::network, "cannot reach " + config_.endpoint + " (" + describe_failure(r) + ")");
  if (r.status != 200)
    throw hub_status_error(r, {config_.endpoint, reference.repo_id, reference.revision, "", !config_.token.empty()});
  Listing out;
  try {
    const auto j = nlohmann::json::parse(r.body);
    out.commit = j.at("sha").get<std::string>();
    for (const auto& s : j.at("siblings")) {
      const std::string name = s.at("rfilename").get<std::string>();
      if (is_safe_repo_path(name)) out.files.push_back(name);
    }
  } catch (const nlohmann::json::exception& e) {
    throw HubError(HubErrc::network, "unexpected answer from " + url + ": " + e.what());
  }
  if (!is_commit_hash(out.commit))
    throw HubError(HubErrc::network, "unexpected answer from " + url + ": '" + out.commit + "' is not a commit hash");
  return out;
}

std::string HubClient::from_cache(const HubReference& reference, const HubDownloadOptions& options,
                                  const std::string& reason) const {
  const HubRepoCache cache(config_.cache_dir, reference.repo_id);
  const std::string tail = reason.empty() ? "" : "; " + reason;
  const auto commit = cache.cached_commit(reference.revision);
  if (!commit)
    throw HubError(HubErrc::not_cached,
                   "'" + reference.to_string() + "' is not in the cache (" + cache.root() + ")" + tail);
  const std::string snapshot = cache.snapshot_dir(*commit);
  const std::vector<std::string> files = cache.snapshot_files(*commit);
  try {
    if (!cache.has_file(*commit, "model_index.json")) throw HubError(HubErrc::not_cached, "no model_index.json");
    const PipelineFiles plan =
        select_pipeline_files(read_json(snapshot + "/model_index.json"), files, options.variant, reference.to_string());
    for (const auto& index : plan.shard_indexes)
      for (const auto& shard : shard_files(read_json(snapshot + "/" + index), index))
        if (!cache.has_file(*commit, shard))
          throw HubError(HubErrc::not_cached, "the shard '" + shard + "' is missing");
  } catch (const HubError& e) {
    throw HubError(HubErrc::not_cached, "'" + reference.to_string() + "' is not in the cache: its snapshot " +
                                            snapshot + " is incomplete (" + e.what() + ")" + tail);
  }
  if (options.note) options.note("using the cached snapshot " + snapshot + (reason.empty() ? "" : " (" + reason + ")"));
  return snapshot;
}

int64_t HubClient::fetch_file(const HubReference& reference, const std::string& commit, const std::string& path,
                              const HubDownloadOptions& options) const {
  const HubRepoCache cache(config_.cache_dir, reference.repo_id);
  if (cache.has_file(commit, path)) return 0;
  const HubRequestContext context{config_.endpoint, reference.repo_id, reference.revision, path,
                                  !config_.token.empty()};
  const std::string url =
      config_.endpoint + "/" + reference.repo_id + "/resolve/" + commit + "/" + url_quote(path, true);
  HubResponse r;
  auto delay = config_.retry_delay;
  for (int attempt = 1; attempt <= kMetadataAttempts; ++attempt) {
    r = http_.head(url);
    if (!transient(r)) break;
    if (attempt < kMetadataAttempts && delay.count() > 0) std::this_thread::sleep_for(delay);
    delay *= 2;
  }
  if (transient(r))
    throw HubError(HubErrc::network, "cannot get '" + path + "' of '" + reference.to_string() + "' from " +
                                         config_.endpoint + " (" + describe_failure(r) + ")");
  if (r.status >= 400) throw hub_status_error(r, context);
  BlobSpec blob;
  blob.path = path;
  blob.url = url;
  blob.etag = normalize_etag(r.header("x-linked-etag"));
  blob.lfs = !blob.etag.empty();
  if (!blob.lfs) blob.etag = normalize_etag(r.header("etag"));
  if (!is_safe_blob_name(blob.etag))
    throw HubError(HubErrc::network, "the Hub gave no usable ETag for '" + path + "' of '" + reference.to_string() +
                                         "' (got '" + blob.etag + "'), so it cannot be cached");
  blob.size = parse_size(r.header("x-linked-size"));
  if (blob.size < 0 && r.status == 200) blob.size = parse_size(r.header("content-length"));
  if (options.max_file_bytes > 0 && blob.size > options.max_file_bytes)
    throw HubError(HubErrc::unsupported, "'" + path + "' of '" + reference.to_string() + "' is " + format_bytes(blob.size) +
                                             ", larger than the " + format_bytes(options.max_file_bytes) + " allowed here");
  int64_t fetched = 0;
  if (!fs::is_regular_file(cache.blob_path(blob.etag))) {
    if (options.note && (blob.size < 0 || blob.size >= kNoteBytes))
      options.note("downloading " + path + " (" + format_bytes(blob.size) + ")");
    download_blob(http_, cache, blob, context, options.progress);
    std::error_code ec;
    fetched = static_cast<int64_t>(fs::file_size(cache.blob_path(blob.etag), ec));
  }
  cache.link(commit, path, blob.etag);
  return fetched;
}

}  // namespace sdw::net
