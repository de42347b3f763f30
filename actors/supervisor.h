// Where stage actors come from: the one factory (spawn_stage) every stage actor is created through,
// and the set of stages a device supervises. In one process the factory spawns local actors; for
// stages on another node it is the one place that would instead return
// `system.middleman().remote_spawn<encoder_actor>(node, "sdw.encoder", args, timeout)` (the remote
// node registering the stage with add_actor_type and running its own loader and device thread):
// stages only exchange message data, so nothing else changes. See docs/actors.md.
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
