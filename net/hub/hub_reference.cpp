// Parsing "org/name[@revision]" (see hub_reference.h).
#include "net/hub/hub_reference.h"

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

bool is_commit_hash(const std::string& revision) {
  if (revision.size() != 40) return false;
  for (char c : revision)
    if (!std::isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  return true;
}

}  // namespace sdw::net
