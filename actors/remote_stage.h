// A stage router: what the stage factory spawns in place of a local stage that serve --stage maps
// to nodes. It speaks the stage's own interface (interfaces.h), so the device actor does not know
// the difference. It connects to each configured node of its stage through CAF's middleman, runs
// the handshake (node_protocol.h: shared-secret HMAC, model fingerprint), monitors the node and
// pings it every heartbeat interval; each request goes to the least-loaded node that is up, or to
// a local stage when none is. A node that goes down (connection lost, or no heartbeat answer for
// heartbeat_timeout) fails the requests it held with an error naming it, and is tried again every
// reconnect interval. Cancels follow a job to where it runs. Bytes and time on the wire go to the
// shared RemoteStatus.
#pragma once

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "actors/interfaces.h"
#include "actors/stage_factory.h"

namespace sdw::actors {

// Spawns the router of stage `kind` (env.remote names its nodes). Cast it to the stage's handle.
caf::actor spawn_remote_stage(caf::actor_system& system, stage_kind kind, const stage_env& env);

}  // namespace sdw::actors
