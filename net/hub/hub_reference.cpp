// Parsing "org/name[@revision]" (see hub_reference.h).
#include "net/hub/hub_reference.h"

#include <algorithm>
#include <cctype>

namespace sdw::net {
namespace {

bool valid_part(const std::string& s) {
  if (s.empty() || s.size() > 96) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  const char first = s.front(), last = s.back();
  if (first == '-' || first == '.' || last == '-' || last == '.') return false;
  return s.find("--") == std::string::npos && s.find("..") == std::string::npos;
}

bool valid_revision(const std::string& r) {
  if (r.empty() || r.size() > 256) return false;
  for (char c : r)
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c))) return false;
  return r.find("..") == std::string::npos && r.front() != '/' && r.back() != '/';
}

}  // namespace

std::optional<HubReference> parse_hub_reference(const std::string& text) {
  HubReference ref;
  const auto at = text.find('@');
  ref.repo_id = text.substr(0, at);
  if (at != std::string::npos) ref.revision = text.substr(at + 1);
  const auto slash = ref.repo_id.find('/');
  if (slash == std::string::npos || ref.repo_id.find('/', slash + 1) != std::string::npos) return std::nullopt;
  if (!valid_part(ref.repo_id.substr(0, slash)) || !valid_part(ref.repo_id.substr(slash + 1))) return std::nullopt;
  if (!valid_revision(ref.revision)) return std::nullopt;
  return ref;
}

bool has_hub_file_prefix(const std::string& text) { return text.rfind(kHubFilePrefix, 0) == 0; }

std::optional<HubFileReference> parse_hub_file_reference(const std::string& text) {
  if (!has_hub_file_prefix(text)) return std::nullopt;
  const std::string rest = text.substr(std::string(kHubFilePrefix).size());
  const auto first = rest.find('/');
  const auto second = first == std::string::npos ? std::string::npos : rest.find('/', first + 1);
  if (second == std::string::npos) return std::nullopt;
  std::string repo = rest.substr(0, second);
  const auto at = repo.find('@');
  if (at != std::string::npos) {  // the revision, URL-encoded slashes decoded
    std::string rev = repo.substr(at + 1), decoded;
    for (size_t i = 0; i < rev.size(); ++i) {
      if (rev.compare(i, 3, "%2F") == 0 || rev.compare(i, 3, "%2f") == 0) {
        decoded += '/';
        i += 2;
      } else {
        decoded += rev[i];
      }
    }
    repo = repo.substr(0, at) + "@" + decoded;
  }
  const auto ref = parse_hub_reference(repo);
  if (!ref) return std::nullopt;
  HubFileReference out{*ref, rest.substr(second + 1)};
  const std::string& p = out.path;
  if (p.empty() || p.size() > 1024 || p.front() == '/' || p.back() == '/' || p.find('\\') != std::string::npos) return std::nullopt;
  for (char c : p)
    if (std::iscntrl(static_cast<unsigned char>(c))) return std::nullopt;
  size_t start = 0;
  while (start <= p.size()) {  // no "." or ".." segment, no empty one
    const size_t end = std::min(p.find('/', start), p.size());
    const std::string seg = p.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return std::nullopt;
    start = end + 1;
  }
  return out;
}

bool is_commit_hash(const std::string& revision) {
  if (revision.size() != 40) return false;
  for (char c : revision)
    if (!std::isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  return true;
}

}  // namespace sdw::net
