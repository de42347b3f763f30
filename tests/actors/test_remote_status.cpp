// RemoteStatus (actors/remote_types.h): what /v1/models and /metrics show of the node links. A
// front worker with several device slots has one router per slot and stage, each with its own
// link to a node; the status keeps each link apart and shows one joined entry per stage and node.
#include <catch.hpp>

#include "actors/remote_types.h"

using namespace sdw;

namespace {

StageNodeState entry(const RemoteStatus& status, const std::string& stage, const std::string& address) {
  for (const auto& s : status.snapshot())
    if (s.stage == stage && s.address == address) return s;
  FAIL("no entry for " << stage << "@" << address);
  return {};
}

}  // namespace

TEST_CASE("two device slots' links to one node show as one entry: up while either is, counters summed",
          "[actors][unit]") {
  RemoteStatus status;
  const std::string node = "10.0.0.2:7900";
  status.update("denoiser", node, 1, [](StageNodeState& s) {
    s.state = "up";
    s.transport = "tls";
    s.device = "cuda:0";
    s.model = "sd15";
    s.load = 2;
    s.in_flight = 1;
    s.requests = 5;
    s.bytes_sent = 100;
    s.wire_ms = 1.5;
  });
  status.update("denoiser", node, 2, [](StageNodeState& s) {
    s.state = "down";
    s.reason = "no heartbeat for 2000 ms";
    s.transport = "tls";
    s.load = 3;
    s.in_flight = 2;
    s.requests = 7;
    s.failures = 1;
    s.bytes_sent = 40;
    s.wire_ms = 0.5;
  });
  // Another stage on the same node and another node of the stage stay separate entries.
  status.update("encoder", node, 1, [](StageNodeState& s) { s.state = "refused"; });
  status.update("denoiser", "10.0.0.3:7900", 1, [](StageNodeState& s) { s.state = "connecting"; });
  REQUIRE(status.snapshot().size() == 3);

  const StageNodeState d = entry(status, "denoiser", node);
  CHECK(d.state == "up");
  CHECK(d.reason.empty());
  CHECK(d.links == 2);
  CHECK(d.links_up == 1);
  CHECK(d.transport == "tls");
  CHECK(d.device == "cuda:0");
  CHECK(d.model == "sd15");
  CHECK(d.load == 3);  // the node's own count: the larger reading, not a sum
  CHECK(d.in_flight == 3);
  CHECK(d.requests == 12);
  CHECK(d.failures == 1);
  CHECK(d.bytes_sent == 140);
  CHECK(d.wire_ms == Approx(2.0));
  CHECK(status.in_flight(node) == 3);
  CHECK(entry(status, "encoder", node).links == 1);

  // Both links down: the entry is down, with a link's reason.
  status.update("denoiser", node, 1, [](StageNodeState& s) {
    s.state = "down";
    s.reason = "connection lost";
  });
  const StageNodeState down = entry(status, "denoiser", node);
  CHECK(down.state == "down");
  CHECK(down.links_up == 0);
  CHECK_FALSE(down.reason.empty());

  // A link reconnecting outranks a down one; a refused one outranks a down one.
  status.update("denoiser", node, 2, [](StageNodeState& s) { s.state = "connecting"; });
  CHECK(entry(status, "denoiser", node).state == "connecting");
  status.update("denoiser", node, 2, [](StageNodeState& s) {
    s.state = "refused";
    s.reason = "another model";
  });
  CHECK(entry(status, "denoiser", node).state == "refused");
  CHECK(entry(status, "denoiser", node).reason == "another model");
}
