// A Hugging Face model reference as users write it: "org/name" or "org/name@revision", where the
// revision is a branch, a tag, "refs/pr/N" or a 40-hex commit (default "main"); and one file of
// a repository as huggingface_hub's HfFileSystem writes it: "hf://org/name[@revision]/path" (a
// revision with '/' in it, such as refs/pr/N, is written URL-encoded there: refs%2Fpr%2F3).
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

struct HubFileReference {
  HubReference repo;
  std::string path;  // "pytorch_lora_weights.safetensors", "loras/ink.safetensors"

  std::string to_string() const { return "hf://" + repo.to_string() + "/" + path; }
};

constexpr const char* kHubFilePrefix = "hf://";
bool has_hub_file_prefix(const std::string& text);
// nullopt when `text` is not "hf://org/name[@revision]/path" with a valid repo id and revision
// and a path without "..", backslashes, control characters or a leading '/'.
std::optional<HubFileReference> parse_hub_file_reference(const std::string& text);

}  // namespace sdw::net
