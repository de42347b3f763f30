// The hashes A1111 records for LoRAs: the "addnet" hash of kohya's sd-scripts / A1111's
// `hashes.addnet_hash_safetensors` is the SHA-256 of a safetensors file's bytes after its header
// (from offset 8 + N, N the little-endian u64 at the start), so editing the metadata keeps it;
// A1111's Lora extension shows its first 12 hex digits (`shorthash`) and writes
// `Lora hashes: "name: 0123456789ab, other: ba9876543210"` into the infotext.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace sdw {

// Full hex SHA-256 of the data section. Throws LoraError when the file is unreadable or too
// short to be safetensors. Remembered per (path, mtime, size): files are read once.
std::string lora_addnet_hash(const std::string& path);
// Its first 12 hex digits.
std::string lora_short_hash(const std::string& path);

// The value of A1111's "Lora hashes" field from (name, short hash) pairs, in order: names lose
// ':' and ',' as A1111 strips them (extra_networks_lora.py).
std::string a1111_lora_hashes(const std::vector<std::pair<std::string, std::string>>& name_and_hash);

}  // namespace sdw
