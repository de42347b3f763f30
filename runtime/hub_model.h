// --model values that name a Hugging Face Hub pipeline: "org/name[@revision]", or an rbee catalog
// version with a repo ("v1-5", "sd-turbo@main"; model/catalog/catalog.h). They resolve, through the Hub
// client in net/ (cache, download, offline), to a local snapshot folder that the diffusers-folder
// loader reads. The weight variant follows the dtype as the loader's does (fp16/bf16 -> "fp16").
#pragma once

#include <c10/core/ScalarType.h>

#include <functional>
#include <optional>
#include <string>

#include "net/hub/hub_download.h"
#include "net/hub/hub_reference.h"

namespace sdw {

// The Hub reference `model` stands for; nullopt for "demo", an existing path, or a name that is
// neither org/name[@revision] nor a catalog version with a repo.
std::optional<net::HubReference> hub_reference_for(const std::string& model);

// The snapshot folder of `reference` (downloaded or found in the cache; environment as
// huggingface_hub: HF_ENDPOINT, HF_HOME, HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE). `progress`: bytes
// per file; `note`: a line per step. Throws net::HubError (invalid_reference for other names).
std::string resolve_hub_model(const std::string& reference, at::ScalarType dtype, const net::HubProgress& progress = {},
                              const std::function<void(const std::string&)>& note = {});

// WorkerConfig::resolve_model for `sd-worker serve`: Hub references resolve as above with the
// dtype named `dtype_name` (parsed when called), progress as lines (each large file's start,
// every quarter, end; a summary); any other name comes back unchanged for the loader to judge.
std::function<std::string(const std::string&, std::function<void(const std::string&)>)> make_hub_resolver(
    const std::string& dtype_name);

// A progress bar on stderr, redrawn at most ten times a second, a newline when a file is done.
net::HubProgress terminal_download_bar();

}  // namespace sdw
