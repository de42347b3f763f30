// The node link is TLS (CAF's OpenSSL module; docs/distributed.md): with --secret an OpenSSL
// client negotiates a TLS session on a node's port while a plaintext node answers a raw TCP client
// in the clear, and a plaintext front and a TLS front cannot use each other's nodes. With
// certificates made here by `openssl req -x509` a front that presents one from the node's CA and
// pins it gets the single-process PNG byte for byte over "tls+cert"; a front with another CA, or
// without a certificate, is refused; incomplete or mismatched certificate flags exit 2.
#include <catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "e2e/distributed_jobs.h"
#include "e2e/http_harness.h"
#include "e2e/node_process.h"
#include "test_util.h"

using namespace sdw;
using namespace sdw::test;
using namespace sdw::test::distributed;
using nlohmann::json;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The openssl command line (run_process execs a path, it does not search PATH).
std::string openssl() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (::access((dir + "/openssl").c_str(), X_OK) == 0) return dir + "/openssl";
  FAIL("the openssl command line is not installed");
  return "";
}

// `openssl s_client` against 127.0.0.1:port offering the anonymous-ECDH suite CAF 0.17 uses.
ProcessResult tls_client(int port) {
  return run_process({"/bin/sh", "-c",
                      openssl() + " s_client -connect 127.0.0.1:" + std::to_string(port) +
                          " -tls1_2 -cipher 'aNULL@SECLEVEL=0' </dev/null"});
}

// What a raw TCP client that sends one line of text reads from 127.0.0.1:port until `marker`
// arrives or the peer closes or resets the connection (bounded: 10 s).
std::string probe_node(int port, const std::string& marker) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  const std::string probe = "hello, is this plain text?\r\n";
  REQUIRE(::write(fd, probe.data(), probe.size()) == static_cast<ssize_t>(probe.size()));
  std::string got;
  for (int i = 0; i < 100 && !has(got, marker); ++i) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return got;
}

// A self-signed certificate (its own CA) and its key: DIR/NAME.crt, DIR/NAME.key.
void make_certificate(const TempDir& tmp, const std::string& name) {
  const ProcessResult p = run_process({openssl(), "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", tmp.file(name + ".key"),
                                       "-out", tmp.file(name + ".crt"), "-days", "1", "-subj", "/CN=sdw-" + name});
  INFO(p.output());
  REQUIRE(p.exit_code == 0);
}

std::vector<std::string> tls_flags(const TempDir& tmp, const std::string& cert, const std::string& ca) {
  return {"--tls-cert", tmp.file(cert + ".crt"), "--tls-key", tmp.file(cert + ".key"), "--tls-ca", tmp.file(ca + ".crt")};
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_CASE("with --secret the node link is encrypted: TLS on the port, plaintext and TLS ends refuse each other",
          "[e2e][distributed]") {
  TempDir tmp;
  const std::string secret = secret_file(tmp, "secret", "correct horse battery staple");
  NodeProcess tls_node({"--model", tiny(), "--stages", "denoiser", "--secret", secret});
  NodeProcess plain_node({"--model", tiny(), "--stages", "denoiser", "--insecure-plaintext"});
  CHECK(has(tls_node.banner(), "transport tls, shared-secret handshake"));
  CHECK(has(plain_node.banner(), "transport plaintext (INSECURE"));

  // An OpenSSL client negotiates a TLS 1.2 session with the TLS node; the plaintext node has none.
  const ProcessResult tls = tls_client(tls_node.port());
  INFO(tls.output());
  CHECK(has(tls.out, "Cipher is AECDH-AES256-SHA"));
  CHECK(has(tls.out, "Protocol  : TLSv1.2"));
  const ProcessResult none = tls_client(plain_node.port());
  INFO(none.output());
  CHECK_FALSE(has(none.out, "Cipher is AECDH"));
  // A raw TCP client that sends a line of text: the plaintext node greets it with CAF's handshake
  // in the clear (its application identifier readable on the wire); the TLS node, which waits for a
  // TLS ClientHello, sends nothing and drops the connection.
  CHECK(has(probe_node(plain_node.port(), "generic-caf-app"), "generic-caf-app"));
  CHECK(probe_node(tls_node.port(), "generic-caf-app").empty());

  // A plaintext front cannot use the TLS node, nor a TLS front the plaintext node.
  WorkerProcess plain_front(front_args({"--stage", "denoiser=" + tls_node.address(), "--insecure-plaintext"}));
  const json p = settled_nodes(plain_front.port(), "denoiser")[0];
  INFO(p.dump());
  CHECK(p["state"] == "down");
  CHECK(p["transport"] == "plaintext");
  CHECK(has(p["reason"].get<std::string>(), "handshake"));
  WorkerProcess tls_front(front_args({"--stage", "denoiser=" + plain_node.address(), "--secret", secret}));
  const json t = settled_nodes(tls_front.port(), "denoiser")[0];
  INFO(t.dump());
  CHECK(t["state"] != "up");
  CHECK(t["transport"] == "tls");
  CHECK(run_job(tls_front.port(), job(3, 8)).first == "complete");  // locally
  CHECK(node_entry(tls_front.port(), "denoiser", plain_node.address())["requests"] == 0);
}

TEST_CASE("TLS with certificates: a front whose certificate the node's CA signed is used, another CA is refused",
          "[e2e][distributed]") {
  TempDir tmp;
  const std::string secret = secret_file(tmp, "secret", "correct horse battery staple");
  make_certificate(tmp, "cluster");
  make_certificate(tmp, "other");

  // Incomplete or mismatched certificate flags: exit 2 with the reason, before any model loads.
  const std::vector<std::string> node_cmd = {SDW_WORKER_BINARY, "node", "--model", tiny(), "--secret", secret};
  const ProcessResult half = run_process(with(node_cmd, {"--tls-cert", tmp.file("cluster.crt")}));
  CHECK(half.exit_code == 2);
  CHECK(has(half.err, "go together"));
  const ProcessResult wrong_key = run_process(with(node_cmd, {"--tls-cert", tmp.file("cluster.crt"), "--tls-key",
                                                             tmp.file("other.key"), "--tls-ca", tmp.file("cluster.crt")}));
  CHECK(wrong_key.exit_code == 2);
  CHECK(has(wrong_key.err, "--tls-key: cannot load"));
  CHECK(has(wrong_key.err, "key values mismatch"));  // OpenSSL's words

  const json body = job(5, 4242);
  const std::string expected = single_process_png(body);
  NodeProcess node(with({"--model", tiny(), "--stages", "encoder,denoiser,decoder", "--secret", secret},
                        tls_flags(tmp, "cluster", "cluster")));
  CHECK(has(node.banner(), "transport tls+cert"));
  const std::vector<std::string> stages_on_node = {"--stage", "encoder=" + node.address(), "--stage",
                                                   "denoiser=" + node.address(), "--stage", "decoder=" + node.address(),
                                                   "--secret", secret};
  {
    WorkerProcess front(front_args(with(stages_on_node, tls_flags(tmp, "cluster", "cluster"))));
    for (const char* stage : {"encoder", "denoiser", "decoder"}) {
      const json n = settled_nodes(front.port(), stage)[0];
      INFO(n.dump());
      REQUIRE(n["state"] == "up");
      CHECK(n["transport"] == "tls+cert");
    }
    auto [name, ev] = run_job(front.port(), body);
    REQUIRE(name == "complete");
    CHECK(png_of(ev) == expected);
    CHECK(node_entry(front.port(), "denoiser", node.address())["requests"] == 1);
  }
  // Another CA: the front's certificate is not the node's CA's, nor the node's the front's.
  WorkerProcess stranger(front_args(with(stages_on_node, tls_flags(tmp, "other", "other"))));
  const json s = settled_nodes(stranger.port(), "denoiser")[0];
  INFO(s.dump());
  CHECK(s["state"] == "down");
  CHECK(has(s["reason"].get<std::string>(), "handshake"));
  // No certificate at all (anonymous TLS): the node requires one.
  WorkerProcess anonymous(front_args(stages_on_node));
  const json a = settled_nodes(anonymous.port(), "denoiser")[0];
  INFO(a.dump());
  CHECK(a["state"] == "down");
  CHECK(a["transport"] == "tls");
}

TEST_CASE("an encrypted TLS key is read with --tls-key-passphrase-file; without it, or with a wrong one, exit 2",
          "[e2e][distributed]") {
  TempDir tmp;
  const std::string secret = secret_file(tmp, "secret", "correct horse battery staple");
  std::ofstream(tmp.file("pass.txt")) << "tiny green frog\n";
  std::ofstream(tmp.file("wrong.txt")) << "tiny green toad\n";
  // A self-signed certificate whose key is encrypted (AES-256) with that passphrase.
  const ProcessResult made =
      run_process({openssl(), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-keyout",
                   tmp.file("enc.key"), "-out", tmp.file("enc.crt"), "-days", "1", "-subj", "/CN=sdw-enc", "-passout",
                   "file:" + tmp.file("pass.txt")});
  INFO(made.output());
  REQUIRE(made.exit_code == 0);
  REQUIRE(has(read_bytes(tmp.file("enc.key")), "ENCRYPTED PRIVATE KEY"));

  const std::vector<std::string> node_cmd = {SDW_WORKER_BINARY, "node", "--model", tiny(), "--secret", secret};
  const std::vector<std::string> certs = tls_flags(tmp, "enc", "enc");  // enc.crt is its own CA
  const ProcessResult no_pass = run_process(with(node_cmd, certs));
  CHECK(no_pass.exit_code == 2);
  CHECK(has(no_pass.err, "an encrypted one needs --tls-key-passphrase-file"));
  const ProcessResult wrong = run_process(with(with(node_cmd, certs), {"--tls-key-passphrase-file", tmp.file("wrong.txt")}));
  CHECK(wrong.exit_code == 2);
  CHECK(has(wrong.err, "with the passphrase of --tls-key-passphrase-file"));
  const ProcessResult alone = run_process(with(node_cmd, {"--tls-key-passphrase-file", tmp.file("pass.txt")}));
  CHECK(alone.exit_code == 2);
  CHECK(has(alone.err, "go together"));

  // With the passphrase on both ends: the link is up with certificates, and a job runs on the node.
  const std::vector<std::string> with_pass = with(certs, {"--tls-key-passphrase-file", tmp.file("pass.txt")});
  NodeProcess node(with({"--model", tiny(), "--stages", "denoiser", "--secret", secret}, with_pass));
  CHECK(has(node.banner(), "transport tls+cert"));
  WorkerProcess front(front_args(with({"--stage", "denoiser=" + node.address(), "--secret", secret}, with_pass)));
  const json n = settled_nodes(front.port(), "denoiser")[0];
  INFO(n.dump());
  REQUIRE(n["state"] == "up");
  CHECK(n["transport"] == "tls+cert");
  CHECK(run_job(front.port(), job(3, 21)).first == "complete");
  CHECK(node_entry(front.port(), "denoiser", node.address())["requests"] == 1);
}
