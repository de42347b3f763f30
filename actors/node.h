// The node actor (node_protocol.h): the one actor an `sd-worker node` publishes. It answers the
// handshake, spawns for each attached router the stage it asked for (with the router's event sink,
// so progress and previews go straight back to the front's job registry), runs that router's stage
// requests on it, counts them as its load, and drops a router's stages when the router goes away.
#pragma once

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/interfaces.h"
#include "actors/node_protocol.h"

namespace sdw::actors {

struct node_setup {
  stage_env env;  // the loaded model, the device thread, limits (events: per attachment)
  model_fingerprint fingerprint;
  std::vector<std::string> stages;
  std::string secret;  // "" with insecure_plaintext
  bool insecure_plaintext = false;
};

// One router's stage on this node.
struct node_attachment {
  encoder_actor encoder;
  denoiser_actor denoiser;
  decoder_actor decoder;
};

struct node_state {
  std::shared_ptr<node_setup> setup;
  std::map<caf::actor_addr, std::string> nonces;  // hello sent, attach pending
  std::map<caf::actor_addr, node_attachment> attached;
  int32_t load = 0;
  std::shared_ptr<std::vector<caf::actor>> spawned;  // every stage spawned (ended with the node)
  static inline const char* name = "sdw.node";
};

caf::behavior node_actor(caf::stateful_actor<node_state>* self, std::shared_ptr<node_setup> setup);

}  // namespace sdw::actors
