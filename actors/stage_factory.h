// The stage factory: the one place stage actors (encoder, denoiser, decoder) are created, and the
// set of stages a device supervises (restarting one that went down). Stages exchange only message
// data, so a factory that spawned them elsewhere would change nothing else.
#pragma once

#include <caf/actor_addr.hpp>
#include <caf/actor_system.hpp>

#include <string>

#include "actors/interfaces.h"

namespace sdw::actors {

enum class stage_kind { encoder, denoiser, decoder };
const char* to_string(stage_kind kind);

// The stage actors of one device.
struct stage_set {
  encoder_actor encoder;
  denoiser_actor denoiser;
  decoder_actor decoder;
  bool up() const { return encoder && denoiser && decoder; }
  // Which stage `addr` is (nullptr: none of them).
  const stage_kind* which(const caf::actor_addr& addr) const;
};

// The stage factory.
template <class Handle>
Handle spawn_stage(caf::actor_system& system, const stage_env& env);
template <>
encoder_actor spawn_stage<encoder_actor>(caf::actor_system& system, const stage_env& env);
template <>
denoiser_actor spawn_stage<denoiser_actor>(caf::actor_system& system, const stage_env& env);
template <>
decoder_actor spawn_stage<decoder_actor>(caf::actor_system& system, const stage_env& env);

stage_set spawn_stages(caf::actor_system& system, const stage_env& env);
// Replaces stage `kind` of `set` with a fresh actor; returns the new actor's address.
caf::actor_addr respawn_stage(caf::actor_system& system, stage_set& set, stage_kind kind, const stage_env& env);

}  // namespace sdw::actors
