// hf:// file references (see hub_asset.h).
#include "runtime/hub_asset.h"

#include "net/hub/hub_client.h"
#include "net/hub/hub_config.h"
#include "net/hub/hub_reference.h"

namespace sdw {

std::string resolve_hub_file(const std::string& reference, int64_t max_bytes, const net::HubProgress& progress,
                             const std::function<void(const std::string&)>& note) {
  const auto ref = net::parse_hub_file_reference(reference);
  if (!ref)
    throw net::HubError(net::HubErrc::invalid_reference,
                        "'" + reference + "' is not a Hugging Face file reference (hf://org/name[@revision]/file.safetensors)");
  const std::string suffix = ".safetensors";
  if (ref->path.size() < suffix.size() || ref->path.compare(ref->path.size() - suffix.size(), suffix.size(), suffix) != 0)
    throw net::HubError(net::HubErrc::invalid_reference,
                        "'" + reference + "': only .safetensors files are loaded (pickle files can run code when read)");
  net::HubDownloadOptions options;
  options.progress = progress;
  options.note = note;
  options.max_file_bytes = max_bytes;
  return net::HubClient(net::hub_config_from_environment()).download_file(*ref, options);
}

}  // namespace sdw
