// The actor layer's parts below the facade: message types through CAF's binary serialisation
// (as they would cross between processes), stage actors reached through CAF's middleman from a
// second actor system (a remote stage), the job table's queue / history / TTL and count eviction
// with explicit time points, job ids, typed errors, latent previews and memory estimates.
#include <catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include <regex>
#include <set>

#include "actors/decoder.h"
#include "actors/encoder.h"
#include "actors/errors.h"
#include "actors/job_registry.h"
#include "actors/job_table.h"
#include "actors/memory_estimate.h"
#include "actors/messages.h"
#include "actors/preview.h"
#include "actors/stage_factory.h"
#include "actors/tensor_message.h"
#include "actors/writer.h"
#include "model/pipeline/demo_model.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/stages.h"
#include "model/nn/layers.h"
#include "model/nn/winograd_conv.h"
#include "test_util.h"

using namespace sdw;
using namespace sdw::actors;
using namespace std::chrono_literals;

namespace {

struct config : caf::actor_system_config {
  explicit config(bool with_middleman = false) {
    register_message_types(*this);
    set("scheduler.policy", caf::atom("sharing"));
    if (with_middleman) load<caf::io::middleman>();
  }
};

template <class T>
T round_trip(caf::actor_system& sys, const T& value) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  T copy = value;
  REQUIRE_FALSE(sink(copy));
  caf::binary_deserializer source{sys, buf};
  T out{};
  REQUIRE_FALSE(source(out));
  return out;
}

JobSubmission sample_submission() {
  JobSubmission s;
  s.request.prompt = "a cat";
  s.request.negative_prompt = "dog";
  s.request.width = s.request.height = 64;
  s.request.steps = 3;
  s.request.seed = 77;
  s.request.mode = GenerationMode::img2img;
  s.request.init_image.width = 2;
  s.request.init_image.height = 1;
  s.request.init_image.channels = 3;
  s.request.init_image.pixels = {1, 2, 3, 4, 5, 6};
  s.output.format = "jpeg";
  s.preview_every = 2;
  s.deadline = 1500ms;
  return s;
}

}  // namespace

TEST_CASE("tensors travel as dtype, shape and bytes", "[actors]") {
  config cfg;
  caf::actor_system sys{cfg};
  for (auto type : {at::kFloat, at::kHalf, at::kBFloat16, at::kLong, at::kByte}) {
    at::Tensor t = (at::randn({2, 3, 4}) * 10).to(type);
    tensor_msg m = round_trip(sys, to_message(t));
    at::Tensor back = from_message(m);
    CHECK(back.scalar_type() == type);
    CHECK(back.sizes() == t.sizes());
    CHECK(at::equal(back, t));
  }
  // Non-contiguous input is copied in logical order.
  at::Tensor base = at::arange(12, at::kFloat).reshape({3, 4});
  CHECK(at::equal(from_message(to_message(base.t())), base.t().contiguous()));
  CHECK(to_message(at::Tensor()).empty());
  CHECK_FALSE(from_message(tensor_msg{}).defined());
  tensor_msg bad = to_message(base);
  bad.data.pop_back();
  CHECK_THROWS_AS(from_message(bad), TensorMessageError);
  bad = to_message(base);
  bad.dtype = "c64";
  CHECK_THROWS_AS(from_message(bad), TensorMessageError);
}

TEST_CASE("stage messages and the facade's types serialise", "[actors]") {
  config cfg;
  caf::actor_system sys{cfg};
  JobSubmission with_loras = sample_submission();
  with_loras.request.loras = {LoraUse{"/loras/a.safetensors", 0.7}, LoraUse{"/loras/b.safetensors", -0.5, true}};
  with_loras.request.prompt_syntax = PromptSyntax::a1111;
  JobSubmission j = round_trip(sys, with_loras);
  const GenerationRequest& r = j.request;
  CHECK(r.prompt == "a cat");
  CHECK(r.negative_prompt.value() == "dog");
  CHECK(r.mode == GenerationMode::img2img);
  CHECK(r.seed.value() == 77);
  CHECK_FALSE(r.guidance.has_value());
  CHECK(r.init_image.pixels == std::vector<uint8_t>{1, 2, 3, 4, 5, 6});
  REQUIRE(r.loras.size() == 2);
  CHECK((r.loras[0] == LoraUse{"/loras/a.safetensors", 0.7}));
  CHECK((r.loras[1] == LoraUse{"/loras/b.safetensors", -0.5, true}));
  CHECK(r.prompt_syntax == PromptSyntax::a1111);
  CHECK(round_trip(sys, JobSubmission{}).request.prompt_syntax == PromptSyntax::diffusers);
  CHECK(j.output.format == "jpeg");
  CHECK(j.deadline.value() == 1500ms);
  JobSubmission no_options = round_trip(sys, JobSubmission{});
  CHECK_FALSE(no_options.deadline.has_value());
  CHECK_FALSE(no_options.request.negative_prompt.has_value());
  ResolvedRequest resolved;
  resolved.request = j.request;
  resolved.guidance = 6.5;
  resolved.seed = 99;
  resolved.scheduler_name = "euler_a";
  resolved.request.eta = 0.25;
  ResolvedRequest resolved2 = round_trip(sys, resolved);
  CHECK(resolved2.request.prompt == "a cat");
  CHECK(resolved2.request.init_image.pixels == resolved.request.init_image.pixels);
  CHECK(resolved2.guidance == 6.5);
  CHECK(resolved2.seed == 99);
  CHECK(resolved2.scheduler_name == "euler_a");
  CHECK(resolved2.request.eta == 0.25);
  CHECK(resolved2.request.loras.size() == 2);

  embeddings_msg e;
  e.context = to_message(at::randn({2, 77, 8}));
  e.cfg = true;
  embeddings_msg e2 = round_trip(sys, e);
  CHECK(e2.cfg);
  CHECK(at::equal(from_message(e2.context), from_message(e.context)));

  // Device -> registry: pixels and the parameters text; registry -> writer: the output format;
  // writer -> registry: files.
  job_result jr;
  jr.images.push_back(Image{2, 1, 3, {'a', 'b', 'c', 'd', 'e', 'f'}});
  jr.parameters = "a cat\nSteps: 4";
  jr.decode_ms = 1.5;
  job_result jr2 = round_trip(sys, jr);
  REQUIRE(jr2.images.size() == 1);
  CHECK(jr2.images[0].pixels == std::vector<uint8_t>{'a', 'b', 'c', 'd', 'e', 'f'});
  CHECK(jr2.images[0].width == 2);
  CHECK(jr2.parameters == jr.parameters);
  OutputFormat format2 = round_trip(sys, OutputFormat{"jpeg", 75});
  CHECK(format2.format == "jpeg");
  CHECK(format2.jpeg_quality == 75);
  CHECK(jr2.decode_ms == 1.5);
  write_result wr;
  wr.images.push_back(EncodedImage{"\x89PNG", "png", 8, 8});
  wr.image_encode_ms = 2.5;
  write_result wr2 = round_trip(sys, wr);
  CHECK(wr2.images.at(0).bytes == "\x89PNG");
  CHECK(wr2.image_encode_ms == 2.5);

  JobStatus s;
  s.job_id = "job-x";
  s.state = JobState::completed;
  s.result = JobEvent{};
  s.result->type = JobEvent::Type::complete;
  s.result->image_encode_ms = 3.5;
  s.result->images.push_back(EncodedImage{"\x89PNG", "png", 8, 8});
  JobStatus s2 = round_trip(sys, s);
  CHECK(s2.state == JobState::completed);
  REQUIRE(s2.result);
  CHECK(s2.result->type == JobEvent::Type::complete);
  CHECK(s2.result->images.at(0).bytes == "\x89PNG");
  CHECK(s2.result->image_encode_ms == 3.5);
  s.result.reset();
  CHECK_FALSE(round_trip(sys, s).result);

  // A whole message with registered types, as the middleman writes it.
  caf::message msg = caf::make_message(encode_atom::value, resolved);
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  REQUIRE_FALSE(sink(msg));
  caf::message back;
  caf::binary_deserializer source{sys, buf};
  REQUIRE_FALSE(source(back));
  REQUIRE(back.match_elements<encode_atom, ResolvedRequest>());
  CHECK(back.get_as<ResolvedRequest>(1).request.prompt == "a cat");
}

TEST_CASE("a stage on another actor system, reached through the middleman, answers like a local one", "[actors]") {
  // Node A runs the stages (with its own device thread and model); node B only holds handles.
  config cfg_a{true}, cfg_b{true};
  caf::actor_system node_a{cfg_a};
  caf::actor_system node_b{cfg_b};
  auto model = make_demo_model({});
  stage_env env;
  env.thread = spawn_device_thread(node_a, "cpu");
  env.events = node_a.spawn([]() -> event_sink_actor::behavior_type {
    return {[](progress_atom, const std::string&, int32_t, int32_t, double) {},
            [](preview_atom, const std::string&, int32_t, int32_t, const EncodedImage&) {},
            [](narrate_atom, const std::string&, const std::string&) {}};
  });
  env.model = model;
  env.model_label = "demo";
  auto enc = spawn_stage<encoder_actor>(node_a, env);
  auto dec = spawn_stage<decoder_actor>(node_a, env);
  auto wri = spawn_writer(node_a, writer_env{});
  auto enc_port = node_a.middleman().publish(enc, 0, "127.0.0.1");
  auto dec_port = node_a.middleman().publish(dec, 0, "127.0.0.1");
  auto wri_port = node_a.middleman().publish(wri, 0, "127.0.0.1");
  REQUIRE(enc_port);
  REQUIRE(dec_port);
  REQUIRE(wri_port);
  auto remote_enc = node_b.middleman().remote_actor<encoder_actor>("127.0.0.1", *enc_port);
  auto remote_dec = node_b.middleman().remote_actor<decoder_actor>("127.0.0.1", *dec_port);
  auto remote_wri = node_b.middleman().remote_actor<writer_actor>("127.0.0.1", *wri_port);
  REQUIRE(remote_enc);
  REQUIRE(remote_dec);
  REQUIRE(remote_wri);

  GenerationRequest request = sample_submission().request;
  request.mode = GenerationMode::txt2img;
  request.init_image = {};
  const ResolvedRequest resolved = resolve_request(*model, request);

  caf::scoped_actor self{node_b};
  embeddings_msg emb;
  caf::error err;
  self->request(*remote_enc, 60s, encode_atom::value, resolved)
      .receive([&](embeddings_msg& e) { emb = std::move(e); }, [&](caf::error& e) { err = e; });
  REQUIRE_FALSE(err);
  PromptEmbeddings local = encode_prompt(*model, resolved);
  CHECK(emb.cfg == local.cfg);
  CHECK(at::equal(from_message(emb.context), local.context));

  // Denoise locally, decode remotely: the same pixels and parameters text as decoding locally;
  // written by a remote writer: the same PNG as encoding locally.
  DenoiseState st = prepare_denoise(*model, resolved, local);
  while (!st.done()) denoise_step(*model, st);
  denoise_result d;
  d.latents = to_message(st.latents);
  d.steps = resolved.request.steps;
  d.sampler_name = "Euler a";
  decode_result decoded;
  self->request(*remote_dec, 60s, decode_atom::value, resolved, d)
      .receive([&](decode_result& r) { decoded = std::move(r); }, [&](caf::error& e) { err = e; });
  REQUIRE_FALSE(err);
  REQUIRE(decoded.images.size() == 1);
  Image img = to_images(decode_latents(*model, st.latents))[0];
  CHECK(decoded.images[0].pixels == img.pixels);
  CHECK(decoded.images[0].width == img.width);
  CHECK(decoded.parameters == parameters_text("demo", resolved, d));
  write_result written;
  self->request(*remote_wri, 60s, write_atom::value, "job-1", OutputFormat{}, decoded.images, decoded.parameters)
      .receive([&](write_result& r) { written = std::move(r); }, [&](caf::error& e) { err = e; });
  REQUIRE_FALSE(err);
  REQUIRE(written.images.size() == 1);
  CHECK(written.images[0].format == "png");
  CHECK(written.images[0].bytes == encode_png(img, parameters_text("demo", resolved, d)));
  self->request(*remote_wri, 60s, write_atom::value, "job-1", OutputFormat{"jpeg", 80}, decoded.images,
                decoded.parameters)
      .receive([&](write_result& r) { written = std::move(r); }, [&](caf::error& e) { err = e; });
  REQUIRE_FALSE(err);
  CHECK(written.images.at(0).format == "jpeg");
  CHECK(written.images.at(0).bytes == encode_jpeg(img, 80));

  // A failing request comes back as a typed error across the wire.
  denoise_result bad_latents = d;
  bad_latents.latents.dtype = "c64";
  self->request(*remote_dec, 60s, decode_atom::value, resolved, bad_latents)
      .receive([&](decode_result&) { FAIL("decoded a tensor of unknown dtype"); }, [&](caf::error& e) { err = e; });
  REQUIRE(err);
  CHECK(error_code(err) == WorkerErrc::internal);
  CHECK(error_message(err).find("unknown tensor dtype") != std::string::npos);

  for (auto& a : {caf::actor_cast<caf::actor>(enc), caf::actor_cast<caf::actor>(dec), caf::actor_cast<caf::actor>(wri),
                  caf::actor_cast<caf::actor>(env.thread), caf::actor_cast<caf::actor>(env.events)})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

TEST_CASE("the job table: bounded queue, history, TTL and count eviction", "[actors]") {
  job_table t(2, 3, 100ms);
  const auto t0 = clock_type::now();
  auto request = [](int steps) {
    ResolvedRequest r;
    r.request.steps = steps;
    r.request.init_image.pixels = std::vector<uint8_t>(1000, 'x');
    return r;
  };
  t.add("a", JobSubmission{}, request(4), t0, t0 + 1s);
  t.add("b", JobSubmission{}, request(4), t0, t0 + 1s);
  CHECK(t.queue_full());
  CHECK(t.queue_position("b") == 2);
  REQUIRE(t.pop_queued().value() == "a");
  job_record& a = *t.find("a");
  t.start(a, 0, t0);
  CHECK(t.running() == 1);
  CHECK_FALSE(t.queue_full());
  CHECK(t.queue_position("b") == 1);
  JobEvent done;
  done.type = JobEvent::Type::complete;
  t.append(a, done);
  t.finish(a, JobState::completed, t0 + 10ms);
  CHECK(t.find("a")->request.request.init_image.pixels.empty());  // the request's images are let go
  REQUIRE(t.find("a")->events.size() == 3);            // queued, started, complete
  CHECK(t.find("a")->events[0].type == JobEvent::Type::queued);
  CHECK(t.find("a")->events[0].job_id == "a");
  // A queued job can finish (cancel): it leaves the queue.
  t.finish(*t.find("b"), JobState::cancelled, t0 + 20ms);
  CHECK(t.queued() == 0);
  CHECK(t.counts().completed == 1);
  CHECK(t.counts().cancelled == 1);
  // TTL: nothing before 100 ms after finishing, then the oldest first.
  CHECK(t.evict(t0 + 50ms).empty());
  CHECK(t.next_expiry().value() == t0 + 110ms);
  CHECK(t.evict(t0 + 110ms) == std::vector<std::string>{"a"});
  CHECK(t.evict(t0 + 120ms) == std::vector<std::string>{"b"});
  CHECK(t.size() == 0);
  CHECK_FALSE(t.next_expiry());
  // Count: at most 3 finished jobs are kept, whatever the TTL.
  for (int i = 0; i < 6; ++i) {
    const std::string id = "j" + std::to_string(i);
    t.add(id, JobSubmission{}, request(1), t0, t0 + 1s);
    t.finish(*t.find(id), JobState::failed, t0 + 200ms);
  }
  CHECK(t.evict(t0 + 200ms) == std::vector<std::string>{"j0", "j1", "j2"});
  CHECK(t.size() == 3);
  CHECK(t.find("j5"));
}

TEST_CASE("the job table keeps at most max_finished_bytes of image data, the newest result always", "[actors]") {
  job_table t(8, 100, 1h, /*max_finished_bytes=*/2500);
  const auto t0 = clock_type::now();
  auto finish_with_image = [&](const std::string& id, size_t bytes) {
    job_record& job = t.add(id, JobSubmission{}, ResolvedRequest{}, t0, t0 + 1s);
    t.finish(job, JobState::completed, t0);
    JobEvent done;
    done.type = JobEvent::Type::complete;
    done.images.push_back(EncodedImage{std::string(bytes, 'p'), "png", 8, 8});
    t.append(job, done);
  };
  finish_with_image("a", 1000);
  finish_with_image("b", 1000);
  CHECK(t.evict(t0).empty());  // 2000 bytes: within the cap
  finish_with_image("c", 1000);
  CHECK(t.evict(t0) == std::vector<std::string>{"a"});  // 3000 > 2500: the oldest goes
  CHECK(t.find("b"));
  CHECK(t.find("c"));
  finish_with_image("d", 5000);  // alone over the cap: the others go, the newest result stays
  CHECK(t.evict(t0) == std::vector<std::string>{"b", "c"});
  CHECK(t.find("d"));
  CHECK(t.size() == 1);
}

TEST_CASE("job ids are random version-4 UUIDs", "[actors]") {
  std::mt19937_64 rng{std::random_device{}()};
  std::set<std::string> ids;
  const std::regex form("job-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  for (int i = 0; i < 1000; ++i) {
    std::string id = new_job_id(rng);
    CHECK(std::regex_match(id, form));
    ids.insert(id);
  }
  CHECK(ids.size() == 1000);
}

TEST_CASE("typed errors: codes, messages, exceptions", "[actors]") {
  WorkerError e = to_worker_error(make_sd_error(WorkerErrc::queue_full, "the queue is full"));
  CHECK(e.code() == WorkerErrc::queue_full);
  CHECK(std::string(e.what()) == "the queue is full");
  CHECK(std::string(to_string(WorkerErrc::timeout)) == "timeout");
  CHECK(error_code(caf::make_error(caf::sec::request_timeout)) == WorkerErrc::timeout);
  CHECK(error_code(caf::make_error(caf::sec::request_receiver_down)) == WorkerErrc::internal);
  auto classify = [](auto ex) { return error_code(classify_exception(std::make_exception_ptr(ex), "stage")); };
  CHECK(classify(RequestError("steps")) == WorkerErrc::invalid_request);
  CHECK(classify(std::bad_alloc()) == WorkerErrc::out_of_memory);
  CHECK(classify(std::runtime_error("[enforce fail] DefaultCPUAllocator: can't allocate memory: you tried")) ==
        WorkerErrc::out_of_memory);
  CHECK(classify(std::runtime_error("CUDA out of memory. Tried to allocate 2 GiB")) == WorkerErrc::out_of_memory);
  CHECK(classify(WorkerError(WorkerErrc::model_not_found, "nope")) == WorkerErrc::model_not_found);
  CHECK(classify(std::logic_error("bug")) == WorkerErrc::internal);
  CHECK(error_message(classify_exception(std::make_exception_ptr(std::runtime_error("first\nbacktrace")), "decoder")) ==
        "decoder failed: first");
}

TEST_CASE("latent previews use the SD 4x3 latent -> RGB matrix", "[actors]") {
  at::Tensor lat = at::zeros({1, 4, 2, 3});
  lat[0][0].fill_(1.0);
  Image img = latent_preview(lat, "sd1");
  CHECK(img.width == 3);
  CHECK(img.height == 2);
  CHECK(img.channels == 3);
  // (0.3512, 0.2297, 0.3227) mapped from [-1, 1] to [0, 255]
  CHECK(img.pixels[0] == 172);
  CHECK(img.pixels[1] == 157);
  CHECK(img.pixels[2] == 169);
  CHECK_THROWS(latent_preview(at::zeros({1, 16, 2, 2}), "sd1"));
}

TEST_CASE("memory estimates: weights from the safetensors headers plus activations", "[actors]") {
  CHECK(mem_available_bytes() > 0);
  const std::string folder = test::fixture("pipelines/tiny-sd15");
  MemoryEstimate e = estimate_folder(folder, at::kFloat);
  auto model = load_diffusers_model(folder, {});
  // The headers count every stored tensor; the model counts its parameters.
  CHECK(e.weight_bytes >= model->weight_bytes());
  CHECK(e.weight_bytes < model->weight_bytes() * 11 / 10);
  CHECK(e.activation_bytes > 0);
  CHECK(estimate_folder(folder, at::kHalf).weight_bytes < e.weight_bytes);
  // SD1.5 at 512x512, fp32: the 8-head attention over 4096 tokens with CFG dominates (~2 GiB).
  nlohmann::json unet{{"block_out_channels", {320, 640, 1280, 1280}},
                      {"down_block_types", {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"}},
                      {"attention_head_dim", 8}};
  nlohmann::json vae{{"block_out_channels", {128, 256, 512, 512}}};
  const int64_t act = activation_bytes(unet, vae, 512, 512, 4);
  CHECK(act > (int64_t{2} << 30));
  CHECK(act < (int64_t{3} << 30));
  CHECK(activation_bytes(unet, vae, 512, 512, 2) < act);
  CHECK(MemoryEstimate{1 << 30, 1 << 29}.describe() == "1.50 GiB (weights 1.00 GiB + activations 512.0 MiB)");

  // The CPU fast path (nn/packed_layer.h): packed weights replace the plain ones, so it adds their
  // block padding and two more copies of the largest layer while it is packed, for fp32 (and bf16
  // on the mixed path) on the CPU while prepacking is on, never for the VAE or other devices;
  // fp16-stored weights add the largest layer in fp32 and its reorder. The mixed bf16 and
  // fp16-stored paths' activations are fp32 (twice the 16-bit estimate).
  int64_t unet_te = 0;
  for (const torch::nn::Module* m : {static_cast<const torch::nn::Module*>(model->text_encoder.get()),
                                     static_cast<const torch::nn::Module*>(model->unet.get())})
    for (const auto& p : m->parameters()) unet_te += p.numel() * p.element_size();
  CHECK(e.prepackable_bytes >= unet_te);
  CHECK(e.prepackable_bytes < unet_te * 11 / 10);
  const bool was = nn::cpu_prepack_enabled();
  nn::set_cpu_prepack(true);
  MemoryEstimate cpu = e;
  add_cpu_prepack(cpu, at::kCPU, at::kFloat);
  CHECK(e.largest_prepackable_bytes > 0);
  CHECK(e.largest_prepackable_bytes < e.prepackable_bytes);
  const int64_t fast_path = e.prepack_padding_bytes + 2 * e.largest_prepackable_bytes;
  // fp32 and fp16-stored products also hold one Winograd work buffer (nn/winograd_conv.h): its
  // bound, or two fp32 copies of the largest layer where that is less (this tiny model).
  const int64_t winograd =
      nn::cpu_winograd_enabled() ? std::min<int64_t>(nn::kWinogradWorkBytesBound, 2 * e.largest_prepackable_bytes) : 0;
  CHECK(winograd < nn::kWinogradWorkBytesBound);
  CHECK(cpu.prepack_bytes == (nn::cpu_onednn_enabled() ? fast_path : 0) + winograd);
  CHECK(cpu.total() == e.total() + cpu.prepack_bytes);
  MemoryEstimate half = e;
  add_cpu_prepack(half, at::kCPU, at::kHalf);
  // fp16: the same layer bytes count as half an fp32 layer, so four copies.
  const int64_t winograd_half =
      nn::cpu_winograd_enabled() ? std::min<int64_t>(nn::kWinogradWorkBytesBound, 4 * e.largest_prepackable_bytes) : 0;
  CHECK(half.prepack_bytes == 4 * e.largest_prepackable_bytes + winograd_half);
  CHECK(half.activation_bytes == 2 * e.activation_bytes);
  MemoryEstimate bf16 = e;
  add_cpu_prepack(bf16, at::kCPU, at::kBFloat16);
  const bool mixed = nn::cpu_onednn_enabled() && nn::onednn_bf16_supported();
  CHECK(bf16.prepack_bytes == (mixed ? fast_path : 0));
  CHECK(bf16.activation_bytes == (mixed ? 2 : 1) * e.activation_bytes);
  MemoryEstimate gpu = e;
  add_cpu_prepack(gpu, at::Device("cuda:0"), at::kBFloat16);
  CHECK(gpu.prepack_bytes == 0);
  CHECK(gpu.activation_bytes == e.activation_bytes);
  nn::set_cpu_prepack(false);
  MemoryEstimate off = e;
  add_cpu_prepack(off, at::kCPU, at::kFloat);
  CHECK(off.prepack_bytes == winograd);
  nn::set_cpu_prepack(was);
  MemoryEstimate shown{1 << 30, 1 << 29};
  shown.prepack_bytes = 1 << 28;
  CHECK(shown.describe() == "1.75 GiB (weights 1.00 GiB + activations 512.0 MiB + CPU fast path up to 256.0 MiB)");
}

TEST_CASE("the memory estimate covers the weights a generation leaves held, packed copies included", "[actors]") {
  if (!nn::cpu_onednn_enabled() || !nn::cpu_prepack_enabled()) return;  // nothing is ever packed here
  const std::string folder = test::fixture("pipelines/tiny-sd15");
  MemoryEstimate e = estimate_folder(folder, at::kFloat);
  add_cpu_prepack(e, at::kCPU, at::kFloat);
  auto model = load_diffusers_model(folder, {});
  auto held = [&] {
    return nn::held_parameter_bytes(*model->text_encoder) + nn::held_parameter_bytes(*model->unet) +
           nn::held_parameter_bytes(*model->vae);
  };
  const int64_t plain = held();
  CHECK(plain == model->weight_bytes());
  GenerationRequest req;
  req.prompt = "a cat";
  req.width = req.height = 32;  // latents 16x16: the tiny UNet's second level (8x8 x CFG batch 2) packs
  req.steps = 2;
  generate(*model, req);
  const int64_t packed = nn::packed_layer_count(*model->unet) + nn::packed_layer_count(*model->vae);
  INFO("packed layers " << packed << ", held " << held() << " bytes, plain " << plain << ", estimate " << e.describe());
  CHECK(packed > 0);
  // The packed weights replaced the plain ones: what is held grows by the block padding only.
  CHECK(held() - plain <= e.prepack_padding_bytes);
  CHECK(held() < plain + plain / 2);  // never a second copy
  CHECK(held() <= e.weight_bytes + e.prepack_bytes);
}

TEST_CASE("SDXL memory estimates: both text encoders, a refiner without the first, SDXL single files at 1024", "[actors][sdxl]") {
  const std::string folder = test::fixture("pipelines/tiny-sdxl");
  auto model = load_diffusers_model(folder, {});
  const MemoryEstimate e = estimate_folder(folder, at::kFloat);
  CHECK(e.weight_bytes >= model->weight_bytes());  // text_encoder_2 included
  int64_t params = 0;
  for (const torch::nn::Module* m : {static_cast<const torch::nn::Module*>(model->text_encoder.get()),
                                     static_cast<const torch::nn::Module*>(model->text_encoder_2.get()),
                                     static_cast<const torch::nn::Module*>(model->unet.get())})
    for (const auto& p : m->parameters()) params += p.numel() * p.element_size();
  CHECK(estimate_model(*model).prepackable_bytes == params);
  const int64_t te1 = [&] {
    int64_t b = 0;
    for (const auto& p : model->text_encoder->parameters()) b += p.numel() * p.element_size();
    return b;
  }();
  model->text_encoder = CLIPTextModel{nullptr};  // a refiner has text_encoder_2 only
  CHECK(estimate_model(*model).prepackable_bytes == params - te1);

  // Single files: an SDXL header is estimated with SDXL's UNet at 1024x1024, an SD1 one at 512x512.
  test::TempDir tmp;
  std::map<std::string, at::Tensor> t{{"model.diffusion_model.input_blocks.0.0.weight", at::zeros({4, 4, 3, 3})},
                                      {"cond_stage_model.transformer.text_model.final_layer_norm.weight", at::zeros({4})}};
  save_safetensors(tmp.file("sd1.safetensors"), t);
  t.erase("cond_stage_model.transformer.text_model.final_layer_norm.weight");
  t["conditioner.embedders.0.transformer.text_model.final_layer_norm.weight"] = at::zeros({4});
  save_safetensors(tmp.file("xl.safetensors"), t);
  nlohmann::json xl_unet{{"block_out_channels", {320, 640, 1280}},
                         {"down_block_types", {"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"}},
                         {"attention_head_dim", {5, 10, 20}}};
  nlohmann::json vae{{"block_out_channels", {128, 256, 512, 512}}};
  const MemoryEstimate xl = estimate_single_file(tmp.file("xl.safetensors"), at::kFloat);
  CHECK(xl.activation_bytes == activation_bytes(xl_unet, vae, 1024, 1024, 4));
  CHECK(xl.activation_bytes > estimate_single_file(tmp.file("sd1.safetensors"), at::kFloat).activation_bytes);
}
