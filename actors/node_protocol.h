// The messages between a front worker's stage routers (remote_stage.h) and a node (node.h), on
// top of the stage interfaces themselves (interfaces.h), which cross unchanged:
//   {nodehello}                         -> node nonce
//   {nodeattach, stage, front nonce, front MAC, front fingerprint, event sink}
//                                       -> node_info (the node's MAC, fingerprint, stages, load)
//   {nodeping}                          -> the node's load (stage requests in flight)
// After a successful attach the router's stage requests ({encode ..}, {denoise ..}, {decode ..},
// {cancel, job}) go to the node actor, which runs them on its own stage actors; anything from a
// sender that has not attached is refused.
#pragma once

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include <string>
#include <vector>

#include "actors/model_fingerprint.h"

namespace caf {
class actor_system_config;
}

namespace sdw::actors {

using nodehello_atom = caf::atom_constant<caf::atom("nodehello")>;
using nodeattach_atom = caf::atom_constant<caf::atom("nodeattach")>;
using nodeping_atom = caf::atom_constant<caf::atom("nodeping")>;
using nodetick_atom = caf::atom_constant<caf::atom("nodetick")>;

// The node's answer to an attach.
struct node_info {
  std::string mac;  // handshake_mac(secret, "node", ...) ("" on an insecure node)
  model_fingerprint model;
  std::string device;
  std::vector<std::string> stages;
  int32_t load = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_fingerprint& x) {
  return f(caf::meta::type_name("sdw.model_fingerprint"), x.family, x.config_hash, x.dtype, x.label);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_info& x) {
  return f(caf::meta::type_name("sdw.node_info"), x.mac, x.model, x.device, x.stages, x.load);
}

// Registers model_fingerprint and node_info (called by register_message_types).
void register_node_types(caf::actor_system_config& cfg);

}  // namespace sdw::actors
