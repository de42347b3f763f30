// The node actor and `sd-worker node`'s start-up (see node.h, node_service.h).
#include "actors/node.h"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <iostream>

#include "actors/device.h"
#include "actors/loader.h"
#include "actors/node_auth.h"
#include "actors/node_service.h"
#include "actors/node_tls_config.h"
#include "actors/stage_factory.h"

namespace sdw::actors {
namespace {

using node_self = caf::stateful_actor<node_state>*;

caf::actor_addr sender_of(node_self self) { return caf::actor_cast<caf::actor_addr>(self->current_sender()); }

caf::error refuse(const std::string& why) { return make_sd_error(WorkerErrc::invalid_request, "node refuses: " + why); }

// The attached router's stage `h` of kind `kind`, or an error for a sender that has not attached.
template <class Handle>
caf::expected<Handle> attached_stage(node_self self, Handle node_attachment::*member, const char* kind) {
  auto it = self->state.attached.find(sender_of(self));
  if (it == self->state.attached.end()) return refuse("this peer has not completed the handshake");
  const Handle& h = it->second.*member;
  if (!h) return refuse(std::string("this peer did not attach the ") + kind + " stage");
  return h;
}

// Runs one stage request on the attached router's stage and answers with its reply.
template <class Reply, class Handle, class... Ts>
caf::result<Reply> forward(node_self self, Handle node_attachment::*member, const char* kind, Ts&&... xs) {
  auto stage = attached_stage(self, member, kind);
  if (!stage) return stage.error();
  auto rp = self->make_response_promise<Reply>();
  ++self->state.load;
  self->request(*stage, caf::infinite, std::forward<Ts>(xs)...)
      .then(
          [self, rp](Reply& r) mutable {
            --self->state.load;
            rp.deliver(std::move(r));
          },
          [self, rp](caf::error& err) mutable {
            --self->state.load;
            rp.deliver(err);
          });
  return rp;
}

void drop(node_self self, const caf::actor_addr& router) {
  auto it = self->state.attached.find(router);
  if (it == self->state.attached.end()) return;
  const node_attachment& a = it->second;
  auto& spawned = *self->state.spawned;
  for (const caf::actor& stage : {caf::actor_cast<caf::actor>(a.encoder), caf::actor_cast<caf::actor>(a.denoiser),
                                 caf::actor_cast<caf::actor>(a.decoder)}) {
    if (!stage) continue;
    caf::anon_send_exit(stage, caf::exit_reason::user_shutdown);
    spawned.erase(std::remove(spawned.begin(), spawned.end(), stage), spawned.end());
  }
  self->state.attached.erase(it);
}

caf::result<node_info> attach(node_self self, const std::string& stage, const std::string& front_nonce,
                              const std::string& mac, const model_fingerprint& front, const caf::actor& sink) {
  auto& st = self->state;
  const node_setup& setup = *st.setup;
  const caf::actor_addr router = sender_of(self);
  auto nonce = st.nonces.find(router);
  if (nonce == st.nonces.end()) return refuse("attach without a hello");
  const std::string node_nonce = nonce->second;
  st.nonces.erase(nonce);
  node_info info;
  if (!setup.insecure_plaintext) {
    if (!same_mac(mac, handshake_mac(setup.secret, "front", node_nonce, front_nonce)))
      return refuse("authentication failed (this node needs the shared secret, --secret FILE)");
    info.mac = handshake_mac(setup.secret, "node", node_nonce, front_nonce);
  }
  if (std::find(setup.stages.begin(), setup.stages.end(), stage) == setup.stages.end())
    return refuse("it does not serve the " + stage + " stage");
  if (const std::string why = fingerprint_mismatch(front, setup.fingerprint); !why.empty()) return refuse(why);
  if (!sink) return refuse("no event sink");
  stage_env env = setup.env;
  env.events = caf::actor_cast<event_sink_actor>(sink);
  node_attachment& a = st.attached[router];
  if (stage == "encoder" && !a.encoder) st.spawned->push_back(caf::actor_cast<caf::actor>(a.encoder = spawn_stage<encoder_actor>(self->system(), env)));
  if (stage == "denoiser" && !a.denoiser) st.spawned->push_back(caf::actor_cast<caf::actor>(a.denoiser = spawn_stage<denoiser_actor>(self->system(), env)));
  if (stage == "decoder" && !a.decoder) st.spawned->push_back(caf::actor_cast<caf::actor>(a.decoder = spawn_stage<decoder_actor>(self->system(), env)));
  self->monitor(caf::actor_cast<caf::actor>(self->current_sender()));
  info.model = setup.fingerprint;
  info.device = setup.env.device_name;
  info.stages = setup.stages;
  info.load = st.load;
  return info;
}

}  // namespace

void register_node_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<model_fingerprint>("sdw.model_fingerprint");
  cfg.add_message_type<node_info>("sdw.node_info");
}

caf::behavior node_actor(caf::stateful_actor<node_state>* self, std::shared_ptr<node_setup> setup) {
  self->state.setup = std::move(setup);
  self->set_down_handler([self](caf::down_msg& dm) { drop(self, dm.source); });
  // The attached stages end with the node (the functor runs after the state is gone: it keeps
  // its own handles).
  auto all = std::make_shared<std::vector<caf::actor>>();
  self->state.spawned = all;
  self->attach_functor([all] {
    for (const auto& a : *all) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  });
  return {
      [=](nodehello_atom) -> std::string {
        const std::string nonce = random_nonce();
        self->state.nonces[sender_of(self)] = nonce;
        return nonce;
      },
      [=](nodeattach_atom, const std::string& stage, const std::string& front_nonce, const std::string& mac,
          const model_fingerprint& front, const caf::actor& sink) -> caf::result<node_info> {
        return attach(self, stage, front_nonce, mac, front, sink);
      },
      [=](nodeping_atom) -> int32_t { return self->state.load; },
      [=](encode_atom a, ResolvedRequest& r) -> caf::result<embeddings_msg> {
        return forward<embeddings_msg>(self, &node_attachment::encoder, "encoder", a, std::move(r));
      },
      [=](denoise_atom a, std::string& id, ResolvedRequest& r, int32_t every,
          embeddings_msg& e) -> caf::result<denoise_result> {
        return forward<denoise_result>(self, &node_attachment::denoiser, "denoiser", a, std::move(id), std::move(r),
                                       every, std::move(e));
      },
      [=](decode_atom a, ResolvedRequest& r, denoise_result& d) -> caf::result<decode_result> {
        return forward<decode_result>(self, &node_attachment::decoder, "decoder", a, std::move(r), std::move(d));
      },
      [=](cancel_atom a, const std::string& id) {
        auto stage = attached_stage(self, &node_attachment::denoiser, "denoiser");
        if (stage) self->send(*stage, a, id);
      },
  };
}

namespace {

// The node's own narration (model loading) on stderr.
event_sink_actor::behavior_type node_log(event_sink_actor::pointer) {
  return {
      [](progress_atom, const std::string&, int32_t, int32_t, double) {},
      [](preview_atom, const std::string&, int32_t, int32_t, const EncodedImage&) {},
      [](narrate_atom, const std::string& actor, const std::string& text) {
        std::cerr << "[node " << actor << "] " << text << std::endl;
      },
  };
}

class node_config : public caf::actor_system_config {
 public:
  explicit node_config(const NodeOptions& o) {
    register_message_types(*this);
    load_node_transport(*this, o.insecure_plaintext, o.tls);
    set("scheduler.policy", caf::atom("sharing"));
  }
};

class node_impl : public Node {
 public:
  explicit node_impl(const NodeOptions& o) : options_(o) {
    try {
      init(o);
    } catch (...) {
      stop();
      throw;
    }
  }
  ~node_impl() override { stop(); }
  uint16_t port() const override { return port_; }
  std::string describe() const override {
    std::string stages;
    for (const auto& s : options_.stages) stages += (stages.empty() ? "" : ",") + s;
    const auto& fp = setup_->fingerprint;
    return "model " + options_.model + " ('" + fp.label + "', " + fp.family + ", " + fp.dtype + ", config " +
           fp.config_hash + "), device " + options_.device + ", stages " + stages +
           ", transport " + node_transport(options_.insecure_plaintext, options_.tls) +
           (options_.insecure_plaintext ? " (INSECURE: no encryption, no authentication)" : ", shared-secret handshake");
  }

 private:
  // Every actor this node spawned ends, so that the actor system can stop.
  void stop() {
    if (actor_) caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown);
    if (loader_) caf::anon_send_exit(loader_, caf::exit_reason::user_shutdown);
    if (log_) caf::anon_send_exit(log_, caf::exit_reason::user_shutdown);
    if (thread_) caf::anon_send_exit(thread_, caf::exit_reason::user_shutdown);
  }

  void init(const NodeOptions& o) {
    if (o.secret.empty() && !o.insecure_plaintext)
      throw std::invalid_argument("a node needs --secret FILE (or --insecure-plaintext for loopback tests)");
    check_node_tls(o.insecure_plaintext, o.tls);
    if (o.stages.empty()) throw std::invalid_argument("--stages names no stage");
    for (const auto& s : o.stages)
      if (s != "encoder" && s != "denoiser" && s != "decoder")
        throw std::invalid_argument("--stages: unknown stage '" + s + "' (encoder, denoiser, decoder)");
    auto setup = std::make_shared<node_setup>();
    setup->stages = o.stages;
    setup->secret = o.secret;
    setup->insecure_plaintext = o.insecure_plaintext;
    stage_env& env = setup->env;
    env.device_name = o.device;
    thread_ = env.thread = spawn_device_thread(system_, o.device, true);
    env.stage_timeout = o.stage_timeout;
    loader_config lc;
    apply_load_settings(o, lc);
    lc.device_name = o.device;
    lc.device = parse_device_name(o.device);
    lc.resolve_model = o.resolve_model;
    lc.thread = env.thread;
    lc.events = log_ = system_.spawn(node_log);
    lc.load_timeout = o.stage_timeout;
    env.limits = lc.limits;
    loader_ = system_.spawn(loader, lc);
    caf::scoped_actor self{system_};
    caf::error err;
    model_handle handle;
    self->request(loader_, o.stage_timeout, load_atom::value)
        .receive([&](model_info& info) { info_ = info; }, [&](caf::error& e) { err = e; });
    if (!err)
      self->request(loader_, o.stage_timeout, acquire_atom::value)
          .receive([&](model_handle& h) { handle = h; }, [&](caf::error& e) { err = e; });
    if (err) throw std::runtime_error("the node's model did not load: " + error_message(err));
    env.model = handle.model;
    env.model_label = handle.label;
    setup->fingerprint = fingerprint_of(*handle.model, handle.label);
    setup_ = setup;
    actor_ = system_.spawn(node_actor, setup);
    auto port = o.insecure_plaintext ? system_.middleman().publish(actor_, o.port, o.host.c_str(), true)
                                     : caf::openssl::publish(actor_, o.port, o.host.c_str(), true);
    if (!port) throw std::runtime_error("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " +
                                        system_.render(port.error()));
    port_ = *port;
  }

  NodeOptions options_;
  node_config config_{options_};
  caf::actor_system system_{config_};
  loader_actor loader_;
  event_sink_actor log_;
  device_thread_actor thread_;
  model_info info_;
  std::shared_ptr<node_setup> setup_;
  caf::actor actor_;
  uint16_t port_ = 0;
};

}  // namespace
}  // namespace sdw::actors

namespace sdw {

std::unique_ptr<Node> Node::start(const NodeOptions& options) { return std::make_unique<actors::node_impl>(options); }

}  // namespace sdw
