// The one exception the Hugging Face Hub client throws: a kind (what went wrong, for callers that
// map it to exit codes or protocol errors) and a message written for the person who has to fix it.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace sdw::net {

enum class HubErrc : uint8_t {
  invalid_reference = 1,  // not "org/name[@revision]"
  repo_not_found,         // 404 RepoNotFound (or a private repo without a token)
  revision_not_found,     // 404 RevisionNotFound
  entry_not_found,        // 404 EntryNotFound: a file the pipeline needs is missing
  unauthorized,           // 401/403: gated or private; a token with access is needed
  not_cached,             // offline (or the Hub unreachable) and the cache lacks the snapshot
  network,                // transport failure after retries, or an unexpected HTTP status
  checksum,               // content does not match the Hub's SHA-256 or size
  io,                     // the cache cannot be written (disk full, permissions)
  unsupported,            // the repo has no usable files (pickle-only weights, ...)
};

inline const char* to_string(HubErrc code) {
  switch (code) {
    case HubErrc::invalid_reference:
      return "invalid_reference";
    case HubErrc::repo_not_found:
      return "repo_not_found";
    case HubErrc::revision_not_found:
      return "revision_not_found";
    case HubErrc::entry_not_found:
      return "entry_not_found";
    case HubErrc::unauthorized:
      return "unauthorized";
    case HubErrc::not_cached:
      return "not_cached";
    case HubErrc::network:
      return "network";
    case HubErrc::checksum:
      return "checksum";
    case HubErrc::io:
      return "io";
    case HubErrc::unsupported:
      return "unsupported";
  }
  return "unknown";
}

class HubError : public std::runtime_error {
 public:
  HubError(HubErrc code, const std::string& message) : std::runtime_error(message), code_(code) {}
  HubErrc code() const { return code_; }

 private:
  HubErrc code_;
};

}  // namespace sdw::net
