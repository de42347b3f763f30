// The loader actor (see loader.h).
#include "actors/loader.h"

#include <caf/send.hpp>

#include <filesystem>

#include "actors/device.h"
#include "actors/memory_estimate.h"
#include "model/catalog/catalog.h"
#include "model/loading/state_dict.h"
#include "model/pipeline/controlnet_stage.h"
#include "model/pipeline/demo_model.h"
#include "model/pipeline/job_memory.h"
#include "model/pipeline/stages.h"
#include "model/pipeline/offload.h"
#include "model/pipeline/vae_memory.h"
#include "model/safetensors/safetensors.h"

namespace fs = std::filesystem;

namespace sdw::actors {
namespace {

void check_fits(const MemoryEstimate& e, int64_t budget, const std::string& name) {
  if (budget > 0 && e.total() > budget)
    throw WorkerError(WorkerErrc::out_of_memory, "model '" + name + "' needs about " + e.describe() + ", but only " +
                                                 format_bytes(budget) + " is available on this device; refused");
  // Offloaded weights live in host memory instead.
  const int64_t host = e.offload == OffloadMode::none ? -1 : mem_available_bytes();
  if (host > 0 && e.weight_bytes > host)
    throw WorkerError(WorkerErrc::out_of_memory, "model '" + name + "' keeps " + format_bytes(e.weight_bytes) +
                                                 " of weights in host memory (--offload " + offload_mode_name(e.offload) +
                                                 "), but only " + format_bytes(host) + " is available; refused");
}

// A served ControlNet into the model's cache, through the checks a job naming it passes
// (check_request_controlnets: the model family, the net's fit to the UNet, then its weights), with
// a blank control image. One that does not fit is left out (a job naming it gets the same 400 as
// before); returns whether it is loaded.
bool preload_controlnet(SdModel& model, const std::string& path, const RequestLimits& limits,
                        const std::function<void(const std::string&)>& progress) {
  GenerationRequest r;
  r.width = r.height = 8;
  ControlNetUse use;
  use.path = path;
  use.image.width = use.image.height = 8;
  use.image.channels = 3;
  use.image.pixels.assign(8 * 8 * 3, 0);
  r.controlnets.push_back(std::move(use));
  try {
    check_request_controlnets(model, r, limits);
    progress("ControlNet '" + path + "' loaded");
    return true;
  } catch (const std::exception& e) {
    progress("ControlNet '" + path + "' not loaded (" + e.what() + "); jobs naming it are refused");
    return false;
  }
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

void apply_load_settings(const ModelLoadSettings& s, loader_config& lc) {
  lc.model = s.model;
  const DtypeChoice dtype = parse_dtype_name(s.dtype);
  lc.dtype = dtype.dtype;
  lc.fp8 = dtype.fp8;
  lc.config_dir = s.model_config_dir;
  lc.vae_file = s.vae_file;
  lc.embeddings = s.embeddings;
  lc.controlnets = s.controlnets;
  lc.cuda_graphs = s.cuda_graphs;
  lc.channels_last = s.channels_last;
  lc.fuse_qkv = s.fuse_qkv;
  lc.memory = s.memory;
  lc.load_t5 = s.load_t5;
  lc.max_sequence_length = s.max_sequence_length;
  lc.t5_device.reset();
  if (!s.t5_device.empty()) lc.t5_device = parse_device_name(s.t5_device);
  lc.memory_budget_bytes = s.memory_budget_bytes;
}

std::string model_label(const std::string& name) {
  if (name.empty() || name == "demo") return "demo";
  fs::path p(name);
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

std::shared_ptr<SdModel> load_served_model(const std::string& name, const ModelLoadOptions& options, int64_t budget,
                                           MemoryEstimate* estimate_out,
                                           const std::function<void(const std::string&)>& progress,
                                           int64_t extra_weight_bytes) {
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  if (name.empty() || name == "demo") {
    // Built in code (small); the estimate is checked on the built model.
    say("building the demo model");
    auto m = load_offloaded(options, [](const ModelLoadOptions& o) { return make_demo_model(o); });
    MemoryEstimate e = estimate_model(*m);
    e.offload = options.memory.offload;
    e.add_part(ModelPart::denoiser, extra_weight_bytes);
    add_cpu_prepack(e, options.device, options.dtype);
    if (estimate_out) *estimate_out = e;
    say("estimated footprint " + e.describe());
    check_fits(e, budget, "demo");
    return m;
  }
  const fs::path p(name);
  if (fs::is_directory(p)) {
    if (!fs::exists(p / "model_index.json"))
      throw WorkerError(WorkerErrc::model_not_found, "'" + name + "' is a folder but not a diffusers pipeline (no model_index.json)");
    try {
      // SD3's T5 counts where it is loaded: not at all without it, not on this device beside it.
      const bool t5_here = options.load_t5 && (!options.t5_device || *options.t5_device == options.device);
      MemoryEstimate e = estimate_folder(name, options.dtype, t5_here);
      e.offload = options.memory.offload;
      e.add_part(ModelPart::denoiser, extra_weight_bytes);
      add_cpu_prepack(e, options.device, options.dtype);
      if (estimate_out) *estimate_out = e;
      say("estimated footprint " + e.describe());
      check_fits(e, budget, name);
      say("reading the weights");
      return load_offloaded(options, [&](const ModelLoadOptions& o) { return load_diffusers_model(name, o); });
    } catch (const LoadError& e) {
      throw WorkerError(WorkerErrc::model_not_found, e.what());
    } catch (const SafetensorsError& e) {
      throw WorkerError(WorkerErrc::model_not_found, e.what());
    }
  }
  if (fs::is_regular_file(p) && p.extension() == ".safetensors") {
    // A single-file checkpoint (original LDM layout): weights from its header; activations as
    // an SD1.x UNet at 512x512 (the file carries no configs).
    try {
      MemoryEstimate e = estimate_single_file(name, options.dtype);
      e.offload = options.memory.offload;
      e.add_part(ModelPart::denoiser, extra_weight_bytes);
      add_cpu_prepack(e, options.device, options.dtype);
      if (estimate_out) *estimate_out = e;
      say("estimated footprint " + e.describe());
      check_fits(e, budget, name);
      say("reading the weights");
      return load_offloaded(options, [&](const ModelLoadOptions& o) { return load_single_file_model(name, o); });
    } catch (const LoadError& e) {
      throw WorkerError(WorkerErrc::model_not_found, e.what());
    } catch (const SafetensorsError& e) {
      throw WorkerError(WorkerErrc::model_not_found, e.what());
    }
  }
  if (fs::is_regular_file(p))
    throw WorkerError(WorkerErrc::model_not_found, "'" + name + "' is neither a diffusers folder nor a .safetensors checkpoint "
                                               "(pickle checkpoints are refused: they can run code)");
  throw WorkerError(WorkerErrc::model_not_found,
                   "model '" + name + "' not found (expected 'demo', a diffusers folder or a .safetensors checkpoint)");
}

namespace {

// A job whose estimated activations (job_memory.h) exceed what the model leaves of the budget is
// refused before it is queued, rather than failing halfway (or, on a CPU, waking the OOM killer).
void check_job_fits(const SdModel& model, const ResolvedRequest& r, int64_t job_budget, const std::string& device) {
  if (job_budget < 0) return;
  const JobMemory need = estimate_job_memory(model, r, job_budget);
  if (need.total() <= job_budget) return;
  const GenerationRequest& q = r.request;
  std::string hint = "ask for fewer images or a smaller size";
  if (!need.vae_tiled && need.vae_bytes > job_budget && model.vae && model.vae->tiling()) hint += ", or vae_tiling";
  throw WorkerError(WorkerErrc::out_of_memory,
                    "this job (" + std::to_string(q.width) + "x" + std::to_string(q.height) + ", " +
                        std::to_string(q.num_images) + " image(s)) needs about " + need.describe() +
                        " of working memory, but the model leaves only " + format_bytes(std::max<int64_t>(job_budget, 0)) +
                        " of " + device + "'s memory for it; " + hint);
}

// What model_info says of a loaded model itself.
void describe_loaded(model_info& info, const SdModel& model) {
  info.family = model.family;
  info.weight_bytes = model.weight_bytes();
  info.default_width = model.default_width;
  info.default_height = model.default_height;
  info.default_steps = model.default_steps;
  info.text_width = model.text_encoder.is_empty() ? 0 : model.text_encoder->config().hidden_size;
  info.text_width_2 = model.text_encoder_2.is_empty() ? 0 : model.text_encoder_2->config().hidden_size;
}

}  // namespace

loader_actor::behavior_type loader(loader_actor::stateful_pointer<loader_state> self, loader_config cfg) {
  if (cfg.preloaded) {
    self->state.model = cfg.preloaded;
    self->state.info.name = cfg.model;
    self->state.info.label = model_label(cfg.model);
    self->state.info.device = cfg.device_name;
    describe_loaded(self->state.info, *cfg.preloaded);
    // A restarted loader: the model is already resident, so what is free now is the jobs' share.
    self->state.job_budget = cfg.memory_budget_bytes > 0 ? cfg.memory_budget_bytes - cfg.preloaded->weight_bytes()
                                                         : device_free_bytes(cfg.device);
  }
  return {
      [=](load_atom) -> caf::result<model_info> {
        if (cfg.fault_injection) cfg.fault_injection("loader/actor");
        auto& st = self->state;
        if (st.model) return st.info;
        if (st.failure) return st.failure;
        auto rp = self->make_response_promise<model_info>();
        st.waiting.push_back(rp);
        if (st.loading) return rp;
        st.loading = true;
        int64_t budget = cfg.memory_budget_bytes;
        // What the device has free now (MemAvailable on a CPU, cudaMemGetInfo's free bytes on CUDA,
        // so models already on the card count); unknown elsewhere (MPS): no check.
        if (budget <= 0) budget = device_free_bytes(cfg.device);
        self->send(cfg.events, narrate_atom::value, std::string("loader"),
                   "loading model '" + cfg.model + "' on " + cfg.device_name +
                       (budget > 0 ? " (memory available: " + format_bytes(budget) + ")" : ""));
        auto result = std::make_shared<std::shared_ptr<SdModel>>();
        auto estimate = std::make_shared<MemoryEstimate>();
        auto t0 = std::chrono::steady_clock::now();
        ModelLoadOptions options;
        options.device = cfg.device;
        options.dtype = cfg.dtype;
        options.fp8 = cfg.fp8;
        options.config_dir = cfg.config_dir;
        options.vae_file = cfg.vae_file;
        options.cuda_graphs = cfg.cuda_graphs;
        options.channels_last = cfg.channels_last;
        options.fuse_qkv = cfg.fuse_qkv;
        options.memory = cfg.memory;
        options.load_t5 = cfg.load_t5;
        options.max_sequence_length = cfg.max_sequence_length;
        options.t5_device = cfg.t5_device;
        const std::string name = cfg.model;
        auto fault = cfg.fault_injection;
        auto resolve = cfg.resolve_model;
        const std::vector<std::string> controlnets = cfg.controlnets;
        const RequestLimits limits = cfg.limits;
        auto loaded_controlnets = std::make_shared<std::vector<std::string>>();
        // Called on the device thread: a plain send to the event sink.
        auto events = cfg.events;
        std::function<void(const std::string&)> progress = [events, name](const std::string& line) {
          caf::anon_send(events, narrate_atom::value, std::string("loader"), "'" + name + "': " + line);
        };
        run_on_device(
            self, cfg.thread, cfg.load_timeout, "loader",
            [=] {
              if (fault) fault("loader");
              std::string source = name;
              std::error_code ec;
              if (resolve && !name.empty() && name != "demo" && !fs::exists(name, ec)) {
                // A catalog model (by version or repo) that cannot fit is refused before gigabytes
                // are downloaded; the estimate of the files themselves is checked again after.
                if (const auto entry = find_catalog_entry(name.substr(0, name.find('@')))) {
                  const int bpp = options.dtype == at::kFloat ? 4 : 2;
                  MemoryEstimate e;
                  e.weight_bytes = estimate_memory_bytes(*entry, bpp, 0, 0);
                  e.activation_bytes = estimate_memory_bytes(*entry, bpp, entry->width, entry->height) - e.weight_bytes;
                  e.prepackable_bytes = non_vae_weight_bytes(*entry, bpp);
                  add_cpu_prepack(e, options.device, options.dtype);
                  progress("catalog estimate for " + entry->version + " (" + entry->repo + "): " + e.describe());
                  // (Under --offload the parts' sizes are unknown here: the files' estimate decides.)
                  if (options.memory.offload == OffloadMode::none) check_fits(e, budget, name);
                }
                // A Hub repo id or catalog version: downloaded (or found in the cache) first.
                try {
                  source = resolve(name, progress);
                } catch (const WorkerError&) {
                  throw;
                } catch (const std::exception& e) {
                  throw WorkerError(WorkerErrc::model_not_found, "model '" + name + "': " + e.what());
                }
              }
              // serve --controlnet: in the estimate, loaded with the model. A net whose weights do
              // not read is left out (logged); jobs naming it are refused as before.
              int64_t controlnet_bytes = 0;
              std::vector<std::string> readable;
              for (const std::string& cn : controlnets) {
                try {
                  controlnet_bytes += estimate_controlnet_bytes(cn, options.dtype);
                  readable.push_back(cn);
                } catch (const std::exception& e) {
                  progress("ControlNet '" + cn + "' not loaded (" + e.what() + "); jobs naming it are refused");
                }
              }
              *result = load_served_model(source, options, budget, estimate.get(), progress, controlnet_bytes);
              (*result)->embeddings = cfg.embeddings;
              for (const std::string& cn : readable) {
                if (preload_controlnet(**result, cn, limits, progress)) loaded_controlnets->push_back(cn);
              }
            },
            [=](const caf::error& err) {
              auto& st = self->state;
              st.loading = false;
              if (err) {
                st.failure = err;
                self->send(cfg.events, narrate_atom::value, std::string("loader"),
                           "loading model '" + cfg.model + "' failed: " + error_message(err));
              } else {
                st.model = *result;
                model_info& info = st.info;
                info.name = cfg.model;
                info.label = model_label(cfg.model);
                info.device = cfg.device_name;
                describe_loaded(info, *st.model);
                info.estimate_bytes = estimate->total();
                info.controlnets = *loaded_controlnets;
                info.available_bytes = budget > 0 ? budget : 0;
                st.job_budget = budget > 0 ? budget - (estimate->total() - estimate->activation_bytes) : -1;
                info.load_ms = ms_since(t0);
                self->send(cfg.events, narrate_atom::value, std::string("loader"),
                           "model '" + cfg.model + "' loaded on " + cfg.device_name + " in " +
                               std::to_string(static_cast<int64_t>(info.load_ms)) + " ms (weights " +
                               format_bytes(info.weight_bytes) + ", estimate " + format_bytes(info.estimate_bytes) + ")");
              }
              for (auto& p : st.waiting) {
                if (err)
                  p.deliver(err);
                else
                  p.deliver(st.info);
              }
              st.waiting.clear();
            });
        return rp;
      },
      [=](validate_atom, GenerationRequest& request) -> caf::result<ResolvedRequest> {
        auto& st = self->state;
        if (!st.model) return make_sd_error(WorkerErrc::not_ready, st.failure ? "model failed to load: " + error_message(st.failure)
                                                                           : std::string("model is still loading"));
        try {
          ResolvedRequest resolved = resolve_request(*st.model, std::move(request), cfg.limits);
          check_job_fits(*st.model, resolved, st.job_budget, cfg.device_name);
          return resolved;
        } catch (const ImageError& e) {
          return make_sd_error(WorkerErrc::invalid_request, e.what());
        } catch (...) {
          return classify_exception(std::current_exception(), "validation");
        }
      },
      [=](acquire_atom) -> caf::result<model_handle> {
        auto& st = self->state;
        if (!st.model) return make_sd_error(WorkerErrc::not_ready, "model is not loaded");
        return model_handle{st.model, st.info.label, st.job_budget};
      },
  };
}

}  // namespace sdw::actors
