// A Hugging Face model reference as users write it: "org/name" or "org/name@revision", where the
// revision is a branch, a tag, "refs/pr/N" or a 40-hex commit (default "main").
#pragma once

#include <optional>
#include <string>

namespace sdw::net {

struct HubReference {
  std::string repo_id;  // "org/name"
  std::string revision = "main";

  std::string to_string() const { return revision == "main" ? repo_id : repo_id + "@" + revision; }
};

// nullopt when `text` is not of that form. Repo ids follow the Hub's rules: exactly one '/',
// each part 1-96 of [A-Za-z0-9_.-], not starting or ending with '-' or '.', no "--" or "..".
std::optional<HubReference> parse_hub_reference(const std::string& text);

bool is_commit_hash(const std::string& revision);  // 40 lower-case hex digits

}  // namespace sdw::net
