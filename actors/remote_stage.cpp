// The stage router (see remote_stage.h).
#include "actors/remote_stage.h"

#include <caf/binary_serializer.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/make_message.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/stateful_actor.hpp>

#include <limits>
#include <map>

#include "actors/model_fingerprint.h"
#include "actors/node_auth.h"
#include "actors/node_protocol.h"
#include "actors/remote_types.h"
#include "actors/request_timeouts.h"

namespace sdw::actors {
namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr size_t kLocal = std::numeric_limits<size_t>::max();

enum class link_state { idle, connecting, up, down, refused };

struct node_link {
  StageNodeAddress where;
  caf::actor node;
  link_state state = link_state::idle;
  clock::time_point last_seen, next_try;
  bool ping_out = false;
  int32_t load = 0;
};

// One request in flight: where it went and how to fail it.
struct stage_call {
  size_t link = kLocal;
  std::string job;  // the denoiser's job id (for cancel), else ""
  clock::time_point start;
  std::function<void(const caf::error&)> fail;
};

struct router_state {
  stage_kind kind = stage_kind::encoder;
  std::string stage;
  stage_env env;  // env.remote: the nodes; the local fallback stage gets it without
  model_fingerprint fingerprint;
  std::vector<node_link> links;
  std::map<uint64_t, stage_call> calls;
  uint64_t next_call = 1;
  caf::actor local;
  std::shared_ptr<caf::actor> local_for_exit = std::make_shared<caf::actor>();  // ended with the router
  static inline const char* name = "sdw.remote_stage";
};

using router = caf::stateful_actor<router_state>*;

double ms_between(clock::time_point a, clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

int64_t wire_size(caf::actor_system& sys, const caf::message& msg) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  caf::message copy = msg;
  if (sink(copy)) return 0;
  return static_cast<int64_t>(buf.size());
}

double stage_ms(const embeddings_msg& m) { return m.encode_ms; }
double stage_ms(const denoise_result& m) { return m.denoise_ms; }
double stage_ms(const decode_result& m) { return m.decode_ms; }

void narrate(router self, const std::string& text) {
  self->send(self->state.env.events, narrate_atom::value, std::string("stage router ") + self->state.stage, text);
}

template <class F>
void update(router self, const node_link& link, F&& f) {
  self->state.env.remote_status->update(self->state.stage, link.where.address(), self->id(), std::forward<F>(f));
}

const char* state_name(link_state s) {
  switch (s) {
    case link_state::idle:
    case link_state::connecting: return "connecting";
    case link_state::up: return "up";
    case link_state::down: return "down";
    case link_state::refused: return "refused";
  }
  return "?";
}

// Marks link `i` down or refused (`state`), failing every request it held with an error naming it.
void link_lost(router self, size_t i, link_state state, const std::string& why) {
  auto& st = self->state;
  node_link& link = st.links[i];
  const bool was_up = link.state == link_state::up;
  if (link.node) self->demonitor(link.node);
  link.node = nullptr;
  link.state = state;
  link.ping_out = false;
  link.next_try = clock::now() + st.env.remote->reconnect_interval;
  // The shared status says "down" before any caller hears of the failure, so a client that reads
  // /v1/models after its job's error sees the node's new state.
  int failed = 0;
  for (const auto& call : st.calls) failed += call.second.link == i ? 1 : 0;
  update(self, link, [&](StageNodeState& s) {
    s.state = state_name(state);
    s.reason = why;
    s.in_flight -= failed;
    s.failures += failed;
  });
  for (auto it = st.calls.begin(); it != st.calls.end();) {
    if (it->second.link != i) {
      ++it;
      continue;
    }
    it->second.fail(make_sd_error(WorkerErrc::internal, "the " + st.stage + " node " + link.where.address() +
                                                            " went down during the job (" + why + ")"));
    it = st.calls.erase(it);
  }
  if (was_up || state == link_state::refused)
    narrate(self, "the " + st.stage + " node " + link.where.address() + " is " + state_name(state) + ": " + why);
}

void attach(router self, size_t i, caf::actor node) {
  auto& st = self->state;
  const milliseconds timeout = st.env.remote->heartbeat_timeout * 2;
  self->request(node, timeout, nodehello_atom::value)
      .then(
          [self, i, node, timeout](std::string& node_nonce) {
            auto& st = self->state;
            const RemoteStagesConfig& cfg = *st.env.remote;
            const std::string front_nonce = random_nonce();
            const std::string mac = cfg.insecure_plaintext ? "" : handshake_mac(cfg.secret, "front", node_nonce, front_nonce);
            self->request(node, timeout, nodeattach_atom::value, st.stage, front_nonce, mac, st.fingerprint,
                          caf::actor_cast<caf::actor>(st.env.events))
                .then(
                    [self, i, node, node_nonce, front_nonce](node_info& info) {
                      auto& st = self->state;
                      const RemoteStagesConfig& cfg = *st.env.remote;
                      if (!cfg.insecure_plaintext &&
                          !same_mac(info.mac, handshake_mac(cfg.secret, "node", node_nonce, front_nonce)))
                        return link_lost(self, i, link_state::refused,
                                         "the node did not prove that it holds the shared secret");
                      if (const std::string why = fingerprint_mismatch(st.fingerprint, info.model); !why.empty())
                        return link_lost(self, i, link_state::refused, why);
                      node_link& link = st.links[i];
                      link.node = node;
                      link.state = link_state::up;
                      link.last_seen = clock::now();
                      link.load = info.load;
                      self->monitor(node);
                      update(self, link, [&](StageNodeState& s) {
                        s.state = "up";
                        s.reason.clear();
                        s.device = info.device;
                        s.model = info.model.label;
                        s.family = info.model.family;
                        s.dtype = info.model.dtype;
                        s.load = info.load;
                      });
                      narrate(self, "the " + st.stage + " node " + link.where.address() + " is up (device " +
                                        info.device + ", model '" + info.model.label + "')");
                    },
                    [self, i](caf::error& err) { link_lost(self, i, link_state::refused, error_message(err)); });
          },
          [self, i](caf::error& err) { link_lost(self, i, link_state::down, "no handshake: " + error_message(err)); });
}

void connect(router self, size_t i) {
  auto& st = self->state;
  node_link& link = st.links[i];
  link.state = link_state::connecting;
  // The TLS-aware middleman actor (CAF's OpenSSL module) unless the link is plaintext.
  const bool tls = !st.env.remote->insecure_plaintext;
  auto mm = tls ? self->system().openssl_manager().actor_handle() : self->system().middleman().actor_handle();
  self->request(mm, st.env.remote->heartbeat_timeout * 3, caf::connect_atom::value, link.where.host, link.where.port)
      .then(
          [self, i](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>&) {
            if (!ptr) return link_lost(self, i, link_state::down, "nothing is published there");
            attach(self, i, caf::actor_cast<caf::actor>(ptr));
          },
          [self, i, tls](caf::error& err) {
            std::string why = "cannot connect: " + self->system().render(err);
            if (err == caf::sec::disconnect_during_handshake)
              why += tls ? " (the TLS or CAF handshake failed: is the node started with --secret and the same "
                           "--tls-* settings, its certificate signed by this worker's --tls-ca?)"
                         : " (is the node started with --secret? A TLS node refuses --insecure-plaintext)";
            link_lost(self, i, link_state::down, why);
          });
}

// Heartbeats, stalled nodes, reconnects; runs every heartbeat interval.
void tick(router self) {
  auto& st = self->state;
  const RemoteStagesConfig& cfg = *st.env.remote;
  const auto now = clock::now();
  for (size_t i = 0; i < st.links.size(); ++i) {
    node_link& link = st.links[i];
    if (link.state == link_state::up) {
      const auto silent = std::chrono::duration_cast<milliseconds>(now - link.last_seen);
      if (silent > cfg.heartbeat_timeout) {
        link_lost(self, i, link_state::down, "no heartbeat answer for " + std::to_string(silent.count()) + " ms");
        continue;
      }
      if (link.ping_out) continue;
      link.ping_out = true;
      self->request(link.node, cfg.heartbeat_timeout, nodeping_atom::value)
          .then(
              [self, i](int32_t load) {
                node_link& link = self->state.links[i];
                if (link.state != link_state::up) return;
                link.ping_out = false;
                link.last_seen = clock::now();
                link.load = load;
                update(self, link, [&](StageNodeState& s) { s.load = load; });
              },
              [self, i](caf::error&) { self->state.links[i].ping_out = false; });
    } else if (link.state != link_state::connecting && now >= link.next_try) {
      connect(self, i);
    }
  }
  self->delayed_send(self, cfg.heartbeat_interval, nodetick_atom::value);
}

// The up node with the fewest requests in flight (this process's and the node's own count), or kLocal.
size_t pick(router self) {
  auto& st = self->state;
  size_t best = kLocal;
  int64_t best_load = 0;
  for (size_t i = 0; i < st.links.size(); ++i) {
    const node_link& link = st.links[i];
    if (link.state != link_state::up) continue;
    const int64_t load = st.env.remote_status->in_flight(link.where.address()) + link.load;
    if (best == kLocal || load < best_load) best = i, best_load = load;
  }
  return best;
}

caf::actor local_stage(router self) {
  auto& st = self->state;
  if (st.local) return st.local;
  stage_env env = st.env;
  env.remote = nullptr;
  switch (st.kind) {
    case stage_kind::encoder: st.local = caf::actor_cast<caf::actor>(spawn_stage<encoder_actor>(self->system(), env)); break;
    case stage_kind::denoiser: st.local = caf::actor_cast<caf::actor>(spawn_stage<denoiser_actor>(self->system(), env)); break;
    case stage_kind::decoder: st.local = caf::actor_cast<caf::actor>(spawn_stage<decoder_actor>(self->system(), env)); break;
  }
  self->monitor(st.local);
  *st.local_for_exit = st.local;
  narrate(self, "no " + st.stage + " node is up: the " + st.stage + " stage runs in this process");
  return st.local;
}

// Sends one stage request to the least-loaded node (or the local stage) and answers with its reply.
template <class Reply, class... Ts>
caf::result<Reply> route(router self, const std::string& job, milliseconds timeout, Ts&&... xs) {
  auto& st = self->state;
  const size_t i = pick(self);
  auto rp = self->make_response_promise<Reply>();
  const uint64_t key = st.next_call++;
  stage_call& call = st.calls[key];
  call.link = i;
  call.job = job;
  call.start = clock::now();
  call.fail = [rp](const caf::error& err) mutable { rp.deliver(err); };
  caf::actor target;
  if (i == kLocal) {
    target = local_stage(self);
    st.env.remote_status->count_local(st.stage);
  } else {
    target = st.links[i].node;
    const int64_t bytes = wire_size(self->system(), caf::make_message(xs...));
    update(self, st.links[i], [&](StageNodeState& s) {
      ++s.in_flight;
      ++s.requests;
      s.bytes_sent += bytes;
    });
  }
  auto handle = self->request(target, timeout, std::forward<Ts>(xs)...);
  const caf::message_id rid = handle.id();
  handle.then(
      [self, key, rid, rp](Reply& reply) mutable {
        forget_timeout(self, rid);
        auto& st = self->state;
        auto it = st.calls.find(key);
        if (it == st.calls.end()) return;  // failed already (its node went down)
        if (it->second.link != kLocal) {
          const double rtt = ms_between(it->second.start, clock::now());
          const int64_t bytes = wire_size(self->system(), caf::make_message(reply));
          update(self, st.links[it->second.link], [&](StageNodeState& s) {
            --s.in_flight;
            s.bytes_received += bytes;
            s.stage_ms += stage_ms(reply);
            s.wire_ms += std::max(0.0, rtt - stage_ms(reply));
          });
        }
        st.calls.erase(it);
        rp.deliver(std::move(reply));
      },
      [self, key, rid, rp](caf::error& err) mutable {
        forget_timeout(self, rid);
        auto& st = self->state;
        auto it = st.calls.find(key);
        if (it == st.calls.end()) return;
        if (it->second.link != kLocal)
          update(self, st.links[it->second.link], [&](StageNodeState& s) {
            --s.in_flight;
            ++s.failures;
          });
        st.calls.erase(it);
        rp.deliver(err);
      });
  return rp;
}

void on_down(router self, const caf::down_msg& dm) {
  auto& st = self->state;
  for (size_t i = 0; i < st.links.size(); ++i)
    if (st.links[i].node && st.links[i].node.address() == dm.source)
      return link_lost(self, i, link_state::down, "connection lost: " + self->system().render(dm.reason));
  if (st.local && st.local.address() == dm.source) {
    st.local = nullptr;
    for (auto it = st.calls.begin(); it != st.calls.end();) {
      if (it->second.link != kLocal) {
        ++it;
        continue;
      }
      it->second.fail(make_sd_error(WorkerErrc::internal, "the local " + st.stage + " stage went down during the job"));
      it = st.calls.erase(it);
    }
  }
}

caf::behavior remote_stage(router self, stage_kind kind, stage_env env) {
  auto& st = self->state;
  st.kind = kind;
  st.stage = to_string(kind);
  st.env = std::move(env);
  st.fingerprint = fingerprint_of(*st.env.model, st.env.model_label);
  for (const auto& n : st.env.remote->nodes)
    if (n.stage == st.stage) {
      st.links.emplace_back();
      st.links.back().where = n;
      const std::string transport = node_transport(st.env.remote->insecure_plaintext, st.env.remote->tls);
      update(self, st.links.back(), [&](StageNodeState& s) { s.transport = transport; });
    }
  self->set_down_handler([self](caf::down_msg& dm) { on_down(self, dm); });
  self->attach_functor([local = st.local_for_exit] {  // the local fallback ends with the router
    if (*local) caf::anon_send_exit(*local, caf::exit_reason::user_shutdown);
  });
  self->send(self, nodetick_atom::value);
  const milliseconds timeout = st.env.stage_timeout;
  return {
      [=](encode_atom a, ResolvedRequest& r) -> caf::result<embeddings_msg> {
        return route<embeddings_msg>(self, "", timeout, a, std::move(r));
      },
      [=](denoise_atom a, std::string& id, ResolvedRequest& r, int32_t every,
          embeddings_msg& e) -> caf::result<denoise_result> {
        const milliseconds t = timeout * 8 * (r.request.steps + 1);  // hires / refiner passes included
        const std::string job = id;
        return route<denoise_result>(self, job, t, a, std::move(id), std::move(r), every, std::move(e));
      },
      [=](decode_atom a, ResolvedRequest& r, denoise_result& d) -> caf::result<decode_result> {
        return route<decode_result>(self, "", timeout, a, std::move(r), std::move(d));
      },
      [=](step_atom, const std::string&) {},  // only a denoiser sends itself steps
      [=](cancel_atom a, const std::string& id) {
        for (const auto& [key, call] : self->state.calls) {
          if (call.job != id) continue;
          if (call.link == kLocal && self->state.local) self->send(self->state.local, a, id);
          if (call.link != kLocal && self->state.links[call.link].node) self->send(self->state.links[call.link].node, a, id);
        }
      },
      [=](nodetick_atom) { tick(self); },
  };
}

}  // namespace

caf::actor spawn_remote_stage(caf::actor_system& system, stage_kind kind, const stage_env& env) {
  return system.spawn(remote_stage, kind, env);
}

}  // namespace sdw::actors
