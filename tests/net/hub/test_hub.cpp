// The Hugging Face Hub download (net/hub_*.h) against the FAKE HUB on loopback of fake_hub.h (an
// httplib Hub and CDN with fault injection). Covered: references and the environment,
// huggingface_hub's cache layout, reuse of a cache laid out by hand as huggingface_hub does,
// offline use, resume, checksum and write failures, gated and unknown repos, the fp16 variant and
// shards. The real `sd-worker` on a Hub reference: tests/e2e/test_hub_e2e.cpp.
#include <sys/resource.h>

#include <algorithm>
#include <catch.hpp>
#include <csignal>
#include <filesystem>
#include <functional>
#include <iterator>
#include <map>
#include <set>

#include "model/loading/diffusers_folder.h"
#include "model/safetensors/safetensors.h"
#include "net/hub/fake_hub.h"
#include "net/hub/hub_cache.h"
#include "net/hub/hub_client.h"
#include "net/hub/hub_config.h"
#include "net/hub/hub_reference.h"
#include "net/hub/hub_selection.h"
#include "net/hub/sha256.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace sdw;
using namespace sdw::net;
using namespace sdw::test::fake_hub;
using nlohmann::json;

namespace {

HubConfig config_for(const FakeHub& hub, const test::TempDir& tmp) { return fake_hub_config(hub, tmp.file("hub")); }

size_t count(const std::vector<Logged>& log, const std::function<bool(const Logged&)>& pred) {
  return static_cast<size_t>(std::count_if(log.begin(), log.end(), pred));
}

bool is_symlink(const std::string& p) { return fs::is_symlink(fs::symlink_status(p)); }

const std::string kUnetWeights = "unet/diffusion_pytorch_model.safetensors";
const std::string kVaeWeights = "vae/diffusion_pytorch_model.safetensors";

// The files a pipeline download of the fixture must fetch: everything in it.
std::set<std::string> fixture_paths() {
  std::set<std::string> out;
  for (const auto& f : folder_files(test::fixture(kFixture))) out.insert(f.first);
  return out;
}

}  // namespace

TEST_CASE("references, environment and the cache's names follow huggingface_hub", "[hub]") {
  auto r = parse_hub_reference("runwayml/stable-diffusion-v1-5");
  REQUIRE(r);
  CHECK(r->repo_id == "runwayml/stable-diffusion-v1-5");
  CHECK(r->revision == "main");
  r = parse_hub_reference("org/name@refs/pr/12");
  REQUIRE(r);
  CHECK(r->revision == "refs/pr/12");
  CHECK(parse_hub_reference("org/name@0123456789abcdef0123456789abcdef01234567")->revision.size() == 40);
  for (const char* bad : {"demo", "v1-5", "a/b/c", "/abs/path", "./x", "../x/y", "org/", "org/na me", "org/x--y",
                          "o/x@", "org/name@../../etc", "org/.hidden"})
    CHECK_FALSE(parse_hub_reference(bad));
  CHECK(repo_folder_name("org/name") == "models--org--name");
  CHECK(is_commit_hash(std::string(40, 'a')));
  CHECK_FALSE(is_commit_hash(std::string(40, 'A')));

  test::TempDir tmp;
  write_file(tmp.file("home/.cache/huggingface/token"), "hf_from_file\n");
  std::map<std::string, std::string> env{{"HOME", tmp.file("home")}};
  auto lookup = [&env](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  HubConfig c = hub_config_from(lookup);
  CHECK(c.endpoint == "https://huggingface.co");
  CHECK(c.cache_dir == tmp.file("home/.cache/huggingface/hub"));
  CHECK(c.token == "hf_from_file");
  CHECK_FALSE(c.offline);
  env["XDG_CACHE_HOME"] = tmp.file("xdg");
  CHECK(hub_config_from(lookup).cache_dir == tmp.file("xdg/huggingface/hub"));
  env["HF_HOME"] = "~/hf";
  write_file(tmp.file("home/hf/token"), "  hf_home_token ");
  c = hub_config_from(lookup);
  CHECK(c.cache_dir == tmp.file("home/hf/hub"));
  CHECK(c.token == "hf_home_token");
  env["HUGGINGFACE_HUB_CACHE"] = "/legacy";
  CHECK(hub_config_from(lookup).cache_dir == "/legacy");
  env["HF_HUB_CACHE"] = "/new";
  env["HF_TOKEN"] = "hf_env";
  env["HF_ENDPOINT"] = "http://mirror.example/";
  env["HF_HUB_OFFLINE"] = "yes";
  c = hub_config_from(lookup);
  CHECK(c.cache_dir == "/new");
  CHECK(c.token == "hf_env");
  CHECK(c.endpoint == "http://mirror.example");
  CHECK(c.offline);
  env["HF_HUB_OFFLINE"] = "0";
  CHECK_FALSE(hub_config_from(lookup).offline);
}

TEST_CASE("a pipeline downloads into an empty cache in huggingface_hub's layout and loads", "[hub]") {
  FakeHub hub;
  const FakeRepo repo = make_repo("tiny", fixture_with_extras());
  hub.add("rbee-test/tiny-sd15", repo);
  test::TempDir tmp;
  HubClient client(config_for(hub, tmp));
  std::map<std::string, std::pair<int64_t, int64_t>> progress;  // file -> last (done, total)
  HubDownloadOptions o;
  o.progress = [&](const std::string& f, int64_t done, int64_t total) { progress[f] = {done, total}; };
  const std::string snapshot = client.download_pipeline({"rbee-test/tiny-sd15", "main"}, o);

  const std::string root = tmp.file("hub/models--rbee-test--tiny-sd15");
  CHECK(snapshot == root + "/snapshots/" + repo.commit);
  CHECK(read_file(root + "/refs/main") == repo.commit);  // no newline
  // Exactly the pipeline's files, each a relative symlink to its blob.
  std::set<std::string> got;
  for (const auto& e : fs::recursive_directory_iterator(snapshot))
    if (!e.is_directory()) got.insert(e.path().lexically_relative(snapshot).generic_string());
  CHECK(got == fixture_paths());
  std::set<std::string> blobs;
  for (const auto& path : fixture_paths()) {
    INFO(path);
    const std::string link = snapshot + "/" + path;
    const std::string& content = repo.files.at(path);
    REQUIRE(is_symlink(link));
    const std::string up = path.find('/') == std::string::npos ? "../../" : "../../../";
    CHECK(fs::read_symlink(link).string() == up + "blobs/" + etag_of(path, content));
    CHECK(read_file(link) == content);
    blobs.insert(etag_of(path, content));
  }
  std::set<std::string> blob_files;
  for (const auto& e : fs::directory_iterator(root + "/blobs")) blob_files.insert(e.path().filename().string());
  CHECK(blob_files == blobs);  // no .incomplete left, nothing else
  // LFS weights came from the CDN without the token; nothing unneeded was asked for.
  const auto log = hub.log();
  CHECK(count(log, [](const Logged& l) { return l.server == "cdn"; }) == 3);
  for (const auto& l : log) {
    INFO(l.method << " " << l.path);
    for (const char* junk : {".bin", ".msgpack", ".onnx", "safety_checker", "README", "pruned", ".gitattributes"})
      CHECK(l.path.find(junk) == std::string::npos);
  }
  CHECK(progress.at(kUnetWeights).first == static_cast<int64_t>(repo.files.at(kUnetWeights).size()));
  CHECK(progress.at(kUnetWeights).second == static_cast<int64_t>(repo.files.at(kUnetWeights).size()));

  // What the loader reads from the snapshot is the fixture's weights.
  REQUIRE(find_weight_files(snapshot + "/unet") == std::vector<std::string>{snapshot + "/" + kUnetWeights});
  const auto a = read_component_tensors(snapshot + "/unet");
  const auto b = read_component_tensors(test::fixture(kFixture + "/unet"));
  REQUIRE(a.size() == b.size());
  for (const auto& kv : b) CHECK(at::equal(a.at(kv.first), kv.second));

  SECTION("a second run downloads nothing") {
    hub.clear_log();
    CHECK(client.download_pipeline({"rbee-test/tiny-sd15", "main"}) == snapshot);
    const auto again = hub.log();
    REQUIRE(again.size() == 1);  // the revision API only: no HEAD, no GET of any file
    CHECK(again[0].path == "/api/models/rbee-test/tiny-sd15/revision/main");
  }
  SECTION("a commit hash with a complete snapshot needs no request at all") {
    hub.clear_log();
    CHECK(client.download_pipeline({"rbee-test/tiny-sd15", repo.commit}) == snapshot);
    CHECK(hub.log().empty());
  }
  SECTION("offline, with the Hub gone, the cache serves") {
    hub.stop();
    HubConfig offline = config_for(hub, tmp);
    offline.offline = true;
    CHECK(HubClient(offline).download_pipeline({"rbee-test/tiny-sd15", "main"}) == snapshot);
    // Online but unreachable: the cache too.
    CHECK(client.download_pipeline({"rbee-test/tiny-sd15", "main"}) == snapshot);
    // A snapshot missing a weight file is not complete.
    fs::remove(snapshot + "/" + kVaeWeights);
    try {
      HubClient(offline).download_pipeline({"rbee-test/tiny-sd15", "main"});
      FAIL("an incomplete snapshot was used offline");
    } catch (const HubError& e) {
      CHECK(e.code() == HubErrc::not_cached);
      CHECK_THAT(e.what(),
                 Catch::Matchers::Contains("not in the cache") && Catch::Matchers::Contains("HF_HUB_OFFLINE"));
    }
  }
}

TEST_CASE("offline with an empty cache fails clearly, without a request", "[hub]") {
  FakeHub hub;
  hub.add("rbee-test/tiny-sd15", make_repo("tiny", folder_files(test::fixture(kFixture))));
  test::TempDir tmp;
  HubConfig c = config_for(hub, tmp);
  c.offline = true;
  try {
    HubClient(c).download_pipeline({"rbee-test/tiny-sd15", "main"});
    FAIL("no error");
  } catch (const HubError& e) {
    CHECK(e.code() == HubErrc::not_cached);
    CHECK_THAT(e.what(), Catch::Matchers::Contains("'rbee-test/tiny-sd15' is not in the cache") &&
                             Catch::Matchers::Contains("HF_HUB_OFFLINE"));
  }
  CHECK(hub.log().empty());
  // The Hub unreachable (nothing listens there any more) and nothing cached: a network error.
  hub.stop();
  c.offline = false;
  try {
    HubClient(c).download_pipeline({"rbee-test/tiny-sd15", "main"});
    FAIL("no error");
  } catch (const HubError& e) {
    CHECK(e.code() == HubErrc::network);
    CHECK_THAT(e.what(), Catch::Matchers::Contains("cannot reach") && Catch::Matchers::Contains("not in the cache"));
  }
}

TEST_CASE("a cache laid out by huggingface_hub is used as it is", "[hub]") {
  FakeHub hub;
  const FakeRepo repo = make_repo("python", folder_files(test::fixture(kFixture)));
  hub.add("rbee-test/tiny-sd15", repo);
  test::TempDir tmp;
  // As huggingface_hub writes it: blobs named by etag, relative symlinks, refs/main.
  const std::string root = tmp.file("hub/models--rbee-test--tiny-sd15");
  for (const auto& f : repo.files) {
    const std::string etag = etag_of(f.first, f.second);
    write_file(root + "/blobs/" + etag, f.second);
    const std::string link = root + "/snapshots/" + repo.commit + "/" + f.first;
    fs::create_directories(fs::path(link).parent_path());
    const std::string up = f.first.find('/') == std::string::npos ? "../../" : "../../../";
    fs::create_symlink(up + "blobs/" + etag, link);
  }
  write_file(root + "/refs/main", repo.commit);
  HubConfig offline = config_for(hub, tmp);
  offline.offline = true;
  const std::string expected = root + "/snapshots/" + repo.commit;
  CHECK(HubClient(offline).download_pipeline({"rbee-test/tiny-sd15", "main"}) == expected);
  CHECK(hub.log().empty());
  // Online, the Hub confirms the commit and nothing is downloaded.
  CHECK(HubClient(config_for(hub, tmp)).download_pipeline({"rbee-test/tiny-sd15", "main"}) == expected);
  CHECK(hub.log().size() == 1);
  CHECK(read_component_tensors(expected + "/vae").size() ==
        read_component_tensors(test::fixture(kFixture + "/vae")).size());
}

TEST_CASE("an interrupted download resumes with a Range request", "[hub]") {
  FakeHub hub;
  const FakeRepo repo = make_repo("resume", folder_files(test::fixture(kFixture)));
  hub.add("rbee-test/tiny-sd15", repo);
  test::TempDir tmp;
  const std::string unet_sha = sha256(repo.files.at(kUnetWeights));
  const std::string vae_sha = sha256(repo.files.at(kVaeWeights));
  const std::string blobs = tmp.file("hub/models--rbee-test--tiny-sd15/blobs/");
  // The UNet's transfer is cut after 1 MB (once); the VAE has a partial file from an earlier run.
  const size_t cut = 1000000, partial = 123457;
  hub.cut_once(unet_sha, cut);
  write_file(blobs + vae_sha + ".incomplete", repo.files.at(kVaeWeights).substr(0, partial));
  int64_t vae_first_done = -1;
  HubDownloadOptions o;
  o.progress = [&](const std::string& f, int64_t done, int64_t) {
    if (f == kVaeWeights && vae_first_done < 0) vae_first_done = done;
  };
  const std::string snapshot = HubClient(config_for(hub, tmp)).download_pipeline({"rbee-test/tiny-sd15", "main"}, o);

  std::vector<std::string> unet_ranges, vae_ranges;
  for (const auto& l : hub.log()) {
    if (l.server != "cdn") continue;
    if (l.path == "/cdn/" + unet_sha) unet_ranges.push_back(l.range);
    if (l.path == "/cdn/" + vae_sha) vae_ranges.push_back(l.range);
  }
  CHECK(unet_ranges == std::vector<std::string>{"", "bytes=" + std::to_string(cut) + "-"});
  CHECK(vae_ranges == std::vector<std::string>{"bytes=" + std::to_string(partial) + "-"});
  CHECK(vae_first_done == static_cast<int64_t>(partial));
  CHECK(read_file(snapshot + "/" + kUnetWeights) == repo.files.at(kUnetWeights));
  CHECK(read_file(snapshot + "/" + kVaeWeights) == repo.files.at(kVaeWeights));
  CHECK_FALSE(fs::exists(blobs + unet_sha + ".incomplete"));
  CHECK_FALSE(fs::exists(blobs + vae_sha + ".incomplete"));
}

TEST_CASE("a corrupted download is rejected and nothing of it is cached", "[hub]") {
  FakeHub hub;
  const FakeRepo repo = make_repo("corrupt", folder_files(test::fixture(kFixture)));
  hub.add("rbee-test/tiny-sd15", repo);
  const std::string unet_sha = sha256(repo.files.at(kUnetWeights));
  hub.corrupt(unet_sha);
  test::TempDir tmp;
  const HubConfig c = config_for(hub, tmp);
  try {
    HubClient(c).download_pipeline({"rbee-test/tiny-sd15", "main"});
    FAIL("corrupt content was accepted");
  } catch (const HubError& e) {
    CHECK(e.code() == HubErrc::checksum);
    CHECK_THAT(e.what(), Catch::Matchers::Contains("SHA-256") && Catch::Matchers::Contains(kUnetWeights) &&
                             Catch::Matchers::Contains("nothing was cached"));
  }
  const std::string root = tmp.file("hub/models--rbee-test--tiny-sd15");
  CHECK_FALSE(fs::exists(root + "/blobs/" + unet_sha));
  CHECK_FALSE(fs::exists(root + "/blobs/" + unet_sha + ".incomplete"));
  CHECK_FALSE(fs::exists(fs::symlink_status(root + "/snapshots/" + repo.commit + "/" + kUnetWeights)));
  CHECK_FALSE(fs::exists(root + "/refs/main"));
  for (const auto& e : fs::directory_iterator(root + "/blobs"))  // whatever is there is whole and right
    CHECK(e.path().extension() != ".incomplete");
  HubConfig offline = c;
  offline.offline = true;
  CHECK_THROWS_AS(HubClient(offline).download_pipeline({"rbee-test/tiny-sd15", "main"}), HubError);
}

TEST_CASE("a write error names the file and leaves no blob", "[hub]") {
  FakeHub hub;
  const FakeRepo repo = make_repo("full", folder_files(test::fixture(kFixture)));
  hub.add("rbee-test/tiny-sd15", repo);
  test::TempDir tmp;
  // A 1 MB file size limit stands in for a full disk: write() fails with EFBIG.
  struct rlimit old {};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = 1 << 20;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  std::string message;
  try {
    HubClient(config_for(hub, tmp)).download_pipeline({"rbee-test/tiny-sd15", "main"});
  } catch (const HubError& e) {
    CHECK(e.code() == HubErrc::io);
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  const std::string te_sha = sha256(repo.files.at("text_encoder/model.safetensors"));
  const std::string blob = tmp.file("hub/models--rbee-test--tiny-sd15/blobs/" + te_sha);
  CHECK_THAT(message, Catch::Matchers::Contains(blob + ".incomplete") && Catch::Matchers::Contains("File too large"));
  CHECK_FALSE(fs::exists(blob));
  CHECK_FALSE(fs::exists(blob + ".incomplete"));
}

TEST_CASE("a gated repo needs HF_TOKEN, which never goes to the CDN", "[hub]") {
  FakeHub hub;
  FakeRepo repo = make_repo("gated", folder_files(test::fixture(kFixture)));
  repo.gated = true;
  hub.add("rbee-test/gated", repo);
  test::TempDir tmp;
  HubConfig c = config_for(hub, tmp);
  for (const std::string token : {"", "hf_wrong"}) {
    c.token = token;
    try {
      HubClient(c).download_pipeline({"rbee-test/gated", "main"});
      FAIL("no error");
    } catch (const HubError& e) {
      CHECK(e.code() == HubErrc::unauthorized);
      CHECK_THAT(e.what(), Catch::Matchers::Contains("HF_TOKEN") &&
                               Catch::Matchers::Contains(hub.endpoint() + "/rbee-test/gated") &&
                               Catch::Matchers::Contains("license"));
      CHECK_THAT(e.what(),
                 Catch::Matchers::Contains(token.empty() ? "no token is set" : "the token in use has no access"));
    }
  }
  hub.clear_log();
  c.token = hub.token;
  const std::string snapshot = HubClient(c).download_pipeline({"rbee-test/gated", "main"});
  CHECK(read_file(snapshot + "/" + kUnetWeights) == repo.files.at(kUnetWeights));
  const auto log = hub.log();
  CHECK(count(log, [](const Logged& l) { return l.server == "cdn"; }) == 3);
  for (const auto& l : log) CHECK(l.authorization == (l.server == "hub" ? "Bearer " + hub.token : ""));
}

TEST_CASE("unknown repos, revisions and files are clear 404 errors", "[hub]") {
  FakeHub hub;
  FakeRepo repo = make_repo("tags", folder_files(test::fixture(kFixture)));
  repo.revisions.insert("v1.0");
  hub.add("rbee-test/tiny-sd15", repo);
  auto broken = folder_files(test::fixture(kFixture));
  broken.erase(kVaeWeights);
  broken["vae/diffusion_pytorch_model.bin"] = "pickle";
  hub.add("rbee-test/pickle-vae", make_repo("pickle", broken));
  auto no_unet = folder_files(test::fixture(kFixture));
  for (auto it = no_unet.begin(); it != no_unet.end();)
    it = it->first.rfind("unet/", 0) == 0 ? no_unet.erase(it) : std::next(it);
  hub.add("rbee-test/no-unet", make_repo("no-unet", no_unet));
  test::TempDir tmp;
  HubClient client(config_for(hub, tmp));
  auto error_of = [&](const HubReference& ref) -> HubError {
    try {
      client.download_pipeline(ref);
    } catch (const HubError& e) {
      return e;
    }
    FAIL("no error for " << ref.to_string());
    return HubError(HubErrc::io, "");
  };
  HubError e = error_of({"rbee-test/nope", "main"});
  CHECK(e.code() == HubErrc::repo_not_found);
  CHECK_THAT(e.what(),
             Catch::Matchers::Contains("repository 'rbee-test/nope' not found") && Catch::Matchers::Contains("404"));
  e = error_of({"rbee-test/tiny-sd15", "v9"});
  CHECK(e.code() == HubErrc::revision_not_found);
  CHECK_THAT(e.what(), Catch::Matchers::Contains("revision 'v9' of 'rbee-test/tiny-sd15' not found"));
  e = error_of({"rbee-test/pickle-vae", "main"});
  CHECK(e.code() == HubErrc::unsupported);
  CHECK_THAT(e.what(), Catch::Matchers::Contains("'vae'") && Catch::Matchers::Contains("diffusion_pytorch_model.bin") &&
                           Catch::Matchers::Contains("refused"));
  e = error_of({"rbee-test/no-unet", "main"});
  CHECK(e.code() == HubErrc::unsupported);
  CHECK_THAT(e.what(), Catch::Matchers::Contains("'unet'"));
  for (const auto& l : hub.log()) CHECK(l.path.find(".bin") == std::string::npos);
  // A tag resolves to its commit and gets its ref.
  const std::string snapshot = client.download_pipeline({"rbee-test/tiny-sd15", "v1.0"});
  CHECK(read_file(tmp.file("hub/models--rbee-test--tiny-sd15/refs/v1.0")) == repo.commit);
  CHECK(fs::path(snapshot).filename() == repo.commit);
}

TEST_CASE("the fp16 variant is chosen for fp16 and loads; shards come with their index", "[hub]") {
  at::NoGradGuard no_grad;
  FakeHub hub;
  auto files = folder_files(test::fixture(kFixture));
  std::map<std::string, std::map<std::string, at::Tensor>> half;  // component -> fp16 tensors
  for (const std::string stem : {"unet/diffusion_pytorch_model", "vae/diffusion_pytorch_model", "text_encoder/model"}) {
    auto tensors = SafetensorsFile::open(test::fixture(kFixture + "/" + stem + ".safetensors")).tensors();
    auto& h = half[stem.substr(0, stem.find('/'))];
    for (auto& kv : tensors) h[kv.first] = kv.second.is_floating_point() ? kv.second.to(at::kHalf) : kv.second;
    files[stem + ".fp16.safetensors"] = safetensors_bytes(h);
  }
  hub.add("rbee-test/tiny-fp16", make_repo("fp16", files));
  // Sharded UNet weights: an index and two shards, no single file.
  auto sharded = folder_files(test::fixture(kFixture));
  sharded.erase(kUnetWeights);
  const auto unet = SafetensorsFile::open(test::fixture(kFixture + "/" + kUnetWeights)).tensors();
  std::map<std::string, at::Tensor> s1, s2;
  json index = {{"metadata", json::object()}, {"weight_map", json::object()}};
  size_t i = 0;
  for (const auto& kv : unet) {
    const bool first = (i++ % 2) == 0;
    (first ? s1 : s2)[kv.first] = kv.second;
    index["weight_map"][kv.first] = first ? "diffusion_pytorch_model-00001-of-00002.safetensors"
                                          : "diffusion_pytorch_model-00002-of-00002.safetensors";
  }
  sharded["unet/diffusion_pytorch_model-00001-of-00002.safetensors"] = safetensors_bytes(s1);
  sharded["unet/diffusion_pytorch_model-00002-of-00002.safetensors"] = safetensors_bytes(s2);
  sharded["unet/diffusion_pytorch_model.safetensors.index.json"] = index.dump();
  sharded["unet/diffusion_pytorch_model-00003-of-00002.safetensors"] = "not named by the index";
  hub.add("rbee-test/tiny-sharded", make_repo("sharded", sharded));

  test::TempDir tmp;
  HubClient client(config_for(hub, tmp));
  HubDownloadOptions fp16;
  fp16.variant = weight_variant_for(at::kHalf);
  CHECK(weight_variant_for(at::kBFloat16) == "fp16");
  CHECK(weight_variant_for(at::kFloat).empty());
  const std::string snap16 = client.download_pipeline({"rbee-test/tiny-fp16", "main"}, fp16);
  for (const std::string c : {"unet", "vae", "text_encoder"}) {
    INFO(c);
    const std::string stem = c == "text_encoder" ? "model" : "diffusion_pytorch_model";
    CHECK(fs::exists(snap16 + "/" + c + "/" + stem + ".fp16.safetensors"));
    CHECK_FALSE(fs::exists(fs::symlink_status(snap16 + "/" + c + "/" + stem + ".safetensors")));
    // The loader, asked for the same dtype, reads exactly the downloaded file.
    CHECK(find_weight_files(snap16 + "/" + c, fp16.variant) ==
          std::vector<std::string>{snap16 + "/" + c + "/" + stem + ".fp16.safetensors"});
    const auto got = read_component_tensors(snap16 + "/" + c, fp16.variant);
    REQUIRE(got.size() == half[c].size());
    for (const auto& kv : half[c]) CHECK(at::equal(got.at(kv.first), kv.second));
  }
  // fp32 in another cache: the plain files only.
  test::TempDir tmp32;
  const std::string snap32 = HubClient(config_for(hub, tmp32)).download_pipeline({"rbee-test/tiny-fp16", "main"});
  CHECK(fs::exists(snap32 + "/" + kUnetWeights));
  CHECK_FALSE(fs::exists(fs::symlink_status(snap32 + "/unet/diffusion_pytorch_model.fp16.safetensors")));

  const std::string snap_sharded = client.download_pipeline({"rbee-test/tiny-sharded", "main"});
  CHECK(fs::exists(snap_sharded + "/unet/diffusion_pytorch_model.safetensors.index.json"));
  CHECK(fs::exists(snap_sharded + "/unet/diffusion_pytorch_model-00001-of-00002.safetensors"));
  CHECK(fs::exists(snap_sharded + "/unet/diffusion_pytorch_model-00002-of-00002.safetensors"));
  CHECK_FALSE(
      fs::exists(fs::symlink_status(snap_sharded + "/unet/diffusion_pytorch_model-00003-of-00002.safetensors")));
  const auto merged = read_component_tensors(snap_sharded + "/unet");
  REQUIRE(merged.size() == unet.size());
  for (const auto& kv : unet) CHECK(at::equal(merged.at(kv.first), kv.second));
  // Offline, the sharded snapshot is complete (index + every shard).
  HubConfig offline = config_for(hub, tmp);
  offline.offline = true;
  CHECK(HubClient(offline).download_pipeline({"rbee-test/tiny-sharded", "main"}) == snap_sharded);
  fs::remove(snap_sharded + "/unet/diffusion_pytorch_model-00002-of-00002.safetensors");
  CHECK_THROWS_WITH(HubClient(offline).download_pipeline({"rbee-test/tiny-sharded", "main"}),
                    Catch::Matchers::Contains("00002-of-00002") && Catch::Matchers::Contains("not in the cache"));
}
