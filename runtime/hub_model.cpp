// Hub references for --model (see hub_model.h).
#include "runtime/hub_model.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

#include "model/catalog/catalog.h"
#include "model/nn/device_names.h"
#include "model/loading/diffusers_folder.h"
#include "net/hub/hub_client.h"
#include "net/hub/hub_config.h"

namespace fs = std::filesystem;

namespace sdw {
namespace {

std::string megabytes(int64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(n) / 1048576.0);
  return buf;
}

}  // namespace

std::optional<net::HubReference> hub_reference_for(const std::string& model) {
  if (model.empty() || model == "demo") return std::nullopt;
  std::error_code ec;
  if (fs::exists(model, ec)) return std::nullopt;
  if (auto ref = net::parse_hub_reference(model)) return ref;
  // A catalog version, optionally with "@revision".
  const auto at = model.find('@');
  const auto entry = find_catalog_entry(model.substr(0, at));
  if (!entry || entry->repo.empty()) return std::nullopt;
  return net::parse_hub_reference(entry->repo + (at == std::string::npos ? "" : model.substr(at)));
}

std::string resolve_hub_model(const std::string& reference, at::ScalarType dtype, const net::HubProgress& progress,
                              const std::function<void(const std::string&)>& note) {
  const auto ref = hub_reference_for(reference);
  if (!ref)
    throw net::HubError(
        net::HubErrc::invalid_reference,
        "'" + reference + "' is neither a Hugging Face repo (org/name[@revision]) nor a catalog version with one");
  // The catalog's SDXL inpainting version names a pipeline this worker cannot run yet: refused
  // before gigabytes are downloaded (SDXL txt2img, xl and turbo, is supported).
  const auto entry = find_catalog_entry(ref->repo_id);
  if (entry && entry->family == "sdxl" && entry->inpainting)
    throw net::HubError(net::HubErrc::unsupported,
                        "'" + reference + "' (" + ref->repo_id + ") is an SDXL inpainting pipeline; SDXL inpainting "
                        "is not supported yet, so nothing was downloaded");
  if (note && !net::parse_hub_reference(reference))
    note("'" + reference + "' is " + ref->to_string() + " on the Hugging Face Hub");
  net::HubDownloadOptions options;
  options.variant = weight_variant_for(dtype);
  options.progress = progress;
  options.note = note;
  return net::HubClient(net::hub_config_from_environment()).download_pipeline(*ref, options);
}

std::function<std::string(const std::string&, std::function<void(const std::string&)>)> make_hub_resolver(
    const std::string& dtype_name) {
  return [dtype_name](const std::string& name, std::function<void(const std::string&)> say) -> std::string {
    if (!hub_reference_for(name)) return name;
    auto quarters = std::make_shared<std::map<std::string, int>>();  // last quarter told, per file
    net::HubProgress progress = [say, quarters](const std::string& file, int64_t done, int64_t total) {
      if (!say || total < (int64_t{8} << 20)) return;  // small files: the client's lines suffice
      const int q = static_cast<int>(done * 4 / total);
      auto it = quarters->find(file);
      if (it != quarters->end() && it->second >= q) return;
      (*quarters)[file] = q;
      if (q == 0) return;  // the start is told by the client's note
      say(file + ": " +
          (q >= 4 ? "downloaded " + megabytes(total) : std::to_string(q * 25) + "% of " + megabytes(total)));
    };
    return resolve_hub_model(name, parse_dtype_choice(dtype_name).dtype, progress, say);
  };
}

net::HubProgress terminal_download_bar() {
  struct State {
    std::string file;
    std::chrono::steady_clock::time_point last{};
    bool finished = false;
  };
  auto st = std::make_shared<State>();
  return [st](const std::string& file, int64_t done, int64_t total) {
    const auto now = std::chrono::steady_clock::now();
    const bool complete = total > 0 && done >= total;
    if (file == st->file && st->finished) return;
    if (file != st->file) {
      st->file = file;
      st->finished = false;
    } else if (!complete && now - st->last < std::chrono::milliseconds(100)) {
      return;
    }
    st->last = now;
    const int width = 30;
    const int filled = total > 0 ? static_cast<int>(width * std::min<int64_t>(done, total) / total) : 0;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '-');
    std::string name = file.size() > 48 ? "..." + file.substr(file.size() - 45) : file;
    std::fprintf(stderr, "\r%-48s [%s] %3d%% %s / %s", name.c_str(), bar.c_str(),
                 total > 0 ? static_cast<int>(100 * std::min<int64_t>(done, total) / total) : 0,
                 megabytes(done).c_str(), total > 0 ? megabytes(total).c_str() : "?");
    if (complete) {
      std::fputc('\n', stderr);
      st->finished = true;
    }
    std::fflush(stderr);
  };
}

}  // namespace sdw
