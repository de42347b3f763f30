// One file of a Hub repository (LoRAs): "hf://org/name[@revision]/path" references, the download
// into huggingface_hub's snapshot layout against the FAKE HUB of fake_hub.h, the cached file
// used again without a download (and offline), a missing file, and the size cap checked before
// any byte of the file is fetched.
#include <catch.hpp>

#include <filesystem>

#include "net/hub/fake_hub.h"
#include "net/hub/hub_client.h"
#include "net/hub/hub_reference.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace sdw;
using namespace sdw::net;
using namespace sdw::test::fake_hub;

namespace {

HubConfig config_for(const FakeHub& hub, const test::TempDir& tmp) { return fake_hub_config(hub, tmp.file("hub")); }

size_t downloads(const FakeHub& hub) {
  size_t n = 0;
  for (const Logged& l : hub.log())
    if (l.server == "cdn" || (l.method == "GET" && l.path.find("/resolve/") != std::string::npos)) ++n;
  return n;
}

}  // namespace

TEST_CASE("hf:// file references follow HfFileSystem's form", "[hub]") {
  auto ref = parse_hub_file_reference("hf://org/loras/styles/ink.safetensors");
  REQUIRE(ref);
  CHECK(ref->repo.repo_id == "org/loras");
  CHECK(ref->repo.revision == "main");
  CHECK(ref->path == "styles/ink.safetensors");
  CHECK(ref->to_string() == "hf://org/loras/styles/ink.safetensors");
  ref = parse_hub_file_reference("hf://org/loras@refs%2Fpr%2F3/ink.safetensors");
  REQUIRE(ref);
  CHECK(ref->repo.revision == "refs/pr/3");
  CHECK(ref->path == "ink.safetensors");
  for (const char* bad : {"org/loras/ink.safetensors", "hf://org/ink.safetensors", "hf://org/loras/", "hf://org/loras/../x.safetensors",
                          "hf://org/loras/a//b.safetensors", "hf://org/loras/./a.safetensors", "hf://org/lo ras/a.safetensors",
                          "hf://org/loras/a\\b.safetensors", "hf://or--g/loras/a.safetensors", "hf:///org/loras/a.safetensors"}) {
    INFO(bad);
    CHECK_FALSE(parse_hub_file_reference(bad));
  }
}

TEST_CASE("one file downloads into the snapshot, is used from the cache after, and offline", "[hub]") {
  FakeHub hub;
  const std::string lora = read_file(test::fixture("lora/sd15_A.kohya.safetensors"));
  const FakeRepo repo = make_repo("loras", {{"README.md", "# LoRAs"}, {"styles/ink.safetensors", lora}});
  hub.add("org/loras", repo);
  test::TempDir tmp;
  HubClient client(config_for(hub, tmp));
  const HubFileReference ref = *parse_hub_file_reference("hf://org/loras/styles/ink.safetensors");
  const std::string path = client.download_file(ref);
  CHECK(path == tmp.file("hub/models--org--loras/snapshots/" + repo.commit + "/styles/ink.safetensors"));
  CHECK(read_file(path) == lora);
  CHECK_FALSE(fs::exists(tmp.file("hub/models--org--loras/snapshots/" + repo.commit + "/README.md")));  // only the file asked for
  CHECK(read_file(tmp.file("hub/models--org--loras/refs/main")) == repo.commit);
  const size_t after_first = downloads(hub);
  CHECK(after_first >= 1);
  CHECK(client.download_file(ref) == path);
  CHECK(downloads(hub) == after_first);  // cached: listed again, not fetched again
  HubConfig offline = config_for(hub, tmp);
  offline.offline = true;
  CHECK(HubClient(offline).download_file(ref) == path);
  hub.stop();  // the Hub unreachable: the cached file of the revision
  CHECK(client.download_file(ref) == path);
}

TEST_CASE("a missing file, an uncached file offline and a file over the cap are clear errors", "[hub]") {
  FakeHub hub;
  hub.add("org/loras", make_repo("loras", {{"big.safetensors", std::string(4096, 'x')}}));
  test::TempDir tmp;
  HubClient client(config_for(hub, tmp));
  try {
    client.download_file(*parse_hub_file_reference("hf://org/loras/missing.safetensors"));
    FAIL("no error");
  } catch (const HubError& e) {
    CHECK(e.code() == HubErrc::entry_not_found);
    CHECK_THAT(e.what(), Catch::Contains("has no file 'missing.safetensors'"));
  }
  HubDownloadOptions capped;
  capped.max_file_bytes = 1000;
  try {
    client.download_file(*parse_hub_file_reference("hf://org/loras/big.safetensors"), capped);
    FAIL("no error");
  } catch (const HubError& e) {
    CHECK(e.code() == HubErrc::unsupported);
    CHECK_THAT(e.what(), Catch::Contains("larger than"));
  }
  CHECK(downloads(hub) == 0);  // refused from the HEAD answer's size
  HubConfig offline = config_for(hub, tmp);
  offline.offline = true;
  try {
    HubClient(offline).download_file(*parse_hub_file_reference("hf://org/loras/big.safetensors"));
    FAIL("no error");
  } catch (const HubError& e) {
    CHECK(e.code() == HubErrc::not_cached);
  }
}
