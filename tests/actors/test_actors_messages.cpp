// The actor layer's messages: message types through CAF's binary serialisation (as they would
// cross between processes), stage actors reached through CAF's middleman from a second actor
// system (a remote stage), and typed errors (codes, messages, exceptions). The job table is in
// test_job_table.cpp, latent previews in test_latent_preview.cpp, memory estimates in
// test_memory_estimate.cpp.
#include <catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/decoder.h"
#include "actors/encoder.h"
#include "actors/errors.h"
#include "actors/job_registry.h"
#include "actors/messages.h"
#include "actors/stage_factory.h"
#include "actors/tensor_message.h"
#include "actors/writer.h"
#include "model/pipeline/demo_model.h"
#include "model/pipeline/generate.h"
#include "model/pipeline/stages.h"

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
