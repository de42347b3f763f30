// Stage factory and stage set (see stage_factory.h).
#include "actors/stage_factory.h"

#include "actors/decoder.h"
#include "actors/denoiser.h"
#include "actors/encoder.h"
#include "actors/remote_stage.h"

namespace sdw::actors {
namespace {

constexpr stage_kind kEncoder = stage_kind::encoder;
constexpr stage_kind kDenoiser = stage_kind::denoiser;
constexpr stage_kind kDecoder = stage_kind::decoder;

}  // namespace

const char* to_string(stage_kind kind) {
  switch (kind) {
    case stage_kind::encoder: return "encoder";
    case stage_kind::denoiser: return "denoiser";
    case stage_kind::decoder: return "decoder";
  }
  return "?";
}

const stage_kind* stage_set::which(const caf::actor_addr& addr) const {
  if (encoder && addr == encoder.address()) return &kEncoder;
  if (denoiser && addr == denoiser.address()) return &kDenoiser;
  if (decoder && addr == decoder.address()) return &kDecoder;
  return nullptr;
}

template <>
encoder_actor spawn_stage<encoder_actor>(caf::actor_system& system, const stage_env& env) {
  if (env.remote && env.remote->has("encoder"))
    return caf::actor_cast<encoder_actor>(spawn_remote_stage(system, stage_kind::encoder, env));
  return system.spawn(encoder, env);
}

template <>
denoiser_actor spawn_stage<denoiser_actor>(caf::actor_system& system, const stage_env& env) {
  if (env.remote && env.remote->has("denoiser"))
    return caf::actor_cast<denoiser_actor>(spawn_remote_stage(system, stage_kind::denoiser, env));
  return system.spawn(denoiser, env);
}

template <>
decoder_actor spawn_stage<decoder_actor>(caf::actor_system& system, const stage_env& env) {
  if (env.remote && env.remote->has("decoder"))
    return caf::actor_cast<decoder_actor>(spawn_remote_stage(system, stage_kind::decoder, env));
  return system.spawn(decoder, env);
}

stage_set spawn_stages(caf::actor_system& system, const stage_env& env) {
  stage_set s;
  s.encoder = spawn_stage<encoder_actor>(system, env);
  s.denoiser = spawn_stage<denoiser_actor>(system, env);
  s.decoder = spawn_stage<decoder_actor>(system, env);
  return s;
}

caf::actor_addr respawn_stage(caf::actor_system& system, stage_set& set, stage_kind kind, const stage_env& env) {
  switch (kind) {
    case stage_kind::encoder:
      set.encoder = spawn_stage<encoder_actor>(system, env);
      return set.encoder.address();
    case stage_kind::denoiser:
      set.denoiser = spawn_stage<denoiser_actor>(system, env);
      return set.denoiser.address();
    case stage_kind::decoder:
      set.decoder = spawn_stage<decoder_actor>(system, env);
      return set.decoder.address();
  }
  return {};
}

}  // namespace sdw::actors
