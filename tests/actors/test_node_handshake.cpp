// The node link's security and parsing (actors/node_auth.*, node.*, remote_types.*): the handshake
// MAC is HMAC-SHA256 as OpenSSL's command line computes it; `--stage` values are parsed or refused
// with the reason; and a published node actor, reached from a second actor system through the
// middleman, refuses every stage request from a peer that has not completed the handshake, an
// attach with a wrong MAC or another model, and serves a peer that proved the secret.
#include <catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/device_thread.h"
#include "actors/errors.h"
#include "actors/node.h"
#include "actors/node_auth.h"
#include "actors/remote_types.h"
#include "model/nn/layers.h"
#include "model/nn/packed_layer.h"
#include "model/pipeline/demo_model.h"
#include "model/pipeline/stages.h"

using namespace sdw;
using namespace sdw::actors;
using namespace std::chrono_literals;

namespace {

struct config : caf::actor_system_config {
  config() {
    register_message_types(*this);
    set("scheduler.policy", caf::atom("sharing"));
    load<caf::io::middleman>();
  }
};

const std::string kSecret = "correct horse battery staple";

}  // namespace

TEST_CASE("the handshake MAC is HMAC-SHA256 over role|node nonce|front nonce; nonces are random", "[actors]") {
  // printf 'front|node-nonce|front-nonce' | openssl dgst -sha256 -hmac 'correct horse battery staple'
  CHECK(handshake_mac(kSecret, "front", "node-nonce", "front-nonce") ==
        "7459be47f7689e9b2bba343d8e0bb373ac0c8f8d12f6c1fbc8b270a56b68a3d2");
  CHECK(handshake_mac(kSecret, "node", "node-nonce", "front-nonce") !=
        handshake_mac(kSecret, "front", "node-nonce", "front-nonce"));
  const std::string a = random_nonce(), b = random_nonce();
  CHECK(a.size() == 64);
  CHECK(a != b);
  CHECK(same_mac(a, a));
  CHECK_FALSE(same_mac(a, b));
  CHECK_FALSE(same_mac("", ""));
}

TEST_CASE("--stage STAGE=HOST:PORT is parsed, or refused naming what is wrong", "[actors]") {
  const StageNodeAddress a = parse_stage_node("denoiser=10.0.0.2:7900");
  CHECK(a.stage == "denoiser");
  CHECK(a.host == "10.0.0.2");
  CHECK(a.port == 7900);
  CHECK(parse_stage_node("encoder=[::1]:80").host == "::1");
  auto refused = [](const std::string& text, const std::string& why) {
    try {
      parse_stage_node(text);
      FAIL("accepted " << text);
    } catch (const std::invalid_argument& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(why) != std::string::npos);
    }
  };
  refused("denoiser", "STAGE=HOST:PORT");
  refused("vae=h:1", "unknown stage 'vae'");
  refused("decoder=h", "HOST:PORT");
  refused("decoder=h:0", "1..65535");
  refused("decoder=h:7x", "not a number");
}

TEST_CASE("a node serves stage requests only to a peer that proved the shared secret", "[actors]") {
  config cfg_node, cfg_front;
  caf::actor_system node_sys{cfg_node};
  caf::actor_system front_sys{cfg_front};
  auto model = make_demo_model({});
  auto setup = std::make_shared<node_setup>();
  setup->env.thread = spawn_device_thread(node_sys, "cpu");
  setup->env.model = model;
  setup->env.model_label = "demo";
  setup->fingerprint = fingerprint_of(*model, "demo");
  setup->stages = {"encoder"};
  setup->secret = kSecret;
  auto node = node_sys.spawn(node_actor, setup);
  auto port = node_sys.middleman().publish(node, 0, "127.0.0.1");
  REQUIRE(port);
  auto remote = front_sys.middleman().remote_actor("127.0.0.1", *port);
  REQUIRE(remote);
  auto sink = front_sys.spawn([]() -> event_sink_actor::behavior_type {
    return {[](progress_atom, const std::string&, int32_t, int32_t, double) {},
            [](preview_atom, const std::string&, int32_t, int32_t, const EncodedImage&) {},
            [](narrate_atom, const std::string&, const std::string&) {}};
  });
  GenerationRequest request;
  request.prompt = "a cat";
  request.width = request.height = 64;
  request.steps = 2;
  const ResolvedRequest resolved = resolve_request(*model, request);

  caf::scoped_actor self{front_sys};
  auto encode = [&]() -> caf::error {
    caf::error err;
    self->request(*remote, 60s, encode_atom::value, resolved)
        .receive([&](embeddings_msg& e) { CHECK_FALSE(e.context.empty()); }, [&](caf::error& e) { err = e; });
    return err;
  };
  auto hello = [&] {
    std::string nonce;
    self->request(*remote, 10s, nodehello_atom::value).receive([&](std::string& n) { nonce = n; }, [&](caf::error& e) {
      FAIL(error_message(e));
    });
    return nonce;
  };
  auto attach = [&](const std::string& mac, const std::string& front_nonce, const model_fingerprint& fp,
                    node_info* out) -> caf::error {
    caf::error err;
    self->request(*remote, 10s, nodeattach_atom::value, std::string("encoder"), front_nonce, mac, fp,
                  caf::actor_cast<caf::actor>(sink))
        .receive([&](node_info& info) { *out = info; }, [&](caf::error& e) { err = e; });
    return err;
  };

  // No handshake: refused.
  caf::error err = encode();
  REQUIRE(err);
  CHECK(error_message(err).find("has not completed the handshake") != std::string::npos);

  // A wrong secret: refused, and still no stage.
  node_info info;
  std::string node_nonce = hello();
  err = attach(handshake_mac("another secret, same length", "front", node_nonce, "f1"), "f1", setup->fingerprint, &info);
  REQUIRE(err);
  CHECK(error_message(err).find("authentication failed") != std::string::npos);
  CHECK(encode());

  // A replayed MAC for an old nonce: refused (each hello makes a new nonce).
  const std::string old_mac = handshake_mac(kSecret, "front", node_nonce, "f1");
  hello();
  err = attach(old_mac, "f1", setup->fingerprint, &info);
  REQUIRE(err);
  CHECK(error_message(err).find("authentication failed") != std::string::npos);

  // Another model: refused with the reason.
  model_fingerprint other = setup->fingerprint;
  other.config_hash = "0000000000000000";
  node_nonce = hello();
  err = attach(handshake_mac(kSecret, "front", node_nonce, "f2"), "f2", other, &info);
  REQUIRE(err);
  CHECK(error_message(err).find("model differs") != std::string::npos);

  // The secret: the node proves it too, and the stage answers.
  node_nonce = hello();
  err = attach(handshake_mac(kSecret, "front", node_nonce, "f3"), "f3", setup->fingerprint, &info);
  REQUIRE_FALSE(err);
  CHECK(info.mac == handshake_mac(kSecret, "node", node_nonce, "f3"));
  CHECK(info.stages == std::vector<std::string>{"encoder"});
  CHECK_FALSE(encode());

  caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(setup->env.thread, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
}

TEST_CASE("the model fingerprint reads a packed layer's values, so packing does not change it", "[actors]") {
  // A front and a node compare fingerprints; one may have run a job (its CPU layers packed, their
  // weight parameters meta placeholders) and the other not.
  auto model = make_demo_model({});
  const model_fingerprint before = fingerprint_of(*model, "demo");
  for (const auto& m : model->unet->modules())
    if (auto* conv = dynamic_cast<nn::Conv2dImpl*>(m.get())) conv->pack(conv->padding_, conv->stride_);
  REQUIRE(nn::packed_layer_count(*model->unet) > 0);
  CHECK(fingerprint_of(*model, "demo").config_hash == before.config_hash);
  // and a changed value still changes it
  nn::unpack_weights(*model->unet);
  {
    at::NoGradGuard no_grad;
    model->unet->conv_in->weight.view({-1})[0].add_(1.0f);
  }
  CHECK(fingerprint_of(*model, "demo").config_hash != before.config_hash);
}
