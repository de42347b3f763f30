// Files that must never be unpickled (LoRAs, embeddings): recognised by extension, then by their
// first bytes (a pickle stream starts with the PROTO opcode 0x80; torch.save's zip files with
// "PK\3\4"), so a renamed pickle is refused too.
#pragma once

#include <string>

namespace sdw {

// Why `path` is a pickle file ("a pickle (.ckpt) file", "a Python pickle, not safetensors", "a zip
// (torch.save) file, not safetensors"); empty when it is not one (or cannot be read).
std::string pickle_reason(const std::string& path);

}  // namespace sdw
