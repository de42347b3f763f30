// Every open client connection: admission against a total cap and a per-client-address cap, the
// phase each one is in (waiting for or reading a request, or being answered), and shutting them
// down when the server's drain is over.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace sdw::net {

struct ConnectionLimits {
  int max_connections = 1024;           // all clients together
  int max_connections_per_client = 256;  // per client IP address
};

class ConnectionTable {
 public:
  enum class Phase { waiting, answering };
  enum class Admission { admitted, server_full, client_full, stopping };

  explicit ConnectionTable(ConnectionLimits limits) : limits_(limits) {}

  // Counts `fd` from `address` in, or says why not. Every admitted fd must be released.
  Admission admit(int fd, const std::string& address);
  void release(int fd);
  void set_phase(int fd, Phase phase);

  // From now on admit() refuses (the waiting connections are woken by the stream's stop
  // descriptor).
  void refuse_new();
  // Shuts down every connection still open.
  void close_all();

  int64_t open() const;
  int64_t refused() const;

 private:
  struct Entry {
    std::string address;
    Phase phase = Phase::waiting;
  };
  ConnectionLimits limits_;
  mutable std::mutex mutex_;
  std::map<int, Entry> open_;
  std::map<std::string, int> per_address_;
  int64_t refused_ = 0;
  bool stopping_ = false;
};

}  // namespace sdw::net
