// Settings of the HTTP server (runtime/cli_serve fills them from flags and environment).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/batch_stats.h"
#include "actors/remote_types.h"
#include "net/http/operations.h"

namespace sdw {
class EmbeddingLibrary;  // model/embeddings/embedding_library.h
}

namespace sdw::net {

struct HttpConfig {
  std::string host = "127.0.0.1";  // loopback unless configured otherwise
  int port = 8080;                 // 0: any free port (see HttpServer::port())
  std::string api_token;           // "" = no auth (rbee: LLORCH_API_TOKEN)
  std::vector<std::string> cors_origins;  // none by default
  size_t max_body_bytes = 32u << 20;
  int threads = 64;                // connection threads kept ready; more start as connections open
  int max_connections = 1024;      // open connections, all clients (503 past it)
  int max_connections_per_client = 256;  // open connections per client address (429 past it)
  int max_streams = 512;           // open SSE streams (503 past it)
  std::chrono::milliseconds sse_keepalive{5000};
  int keep_alive_timeout_s = 5;
  int header_timeout_s = 10;       // a request's line and headers must arrive within this (408)
  int read_timeout_s = 30;         // its headers and body must arrive within this (408)
  int write_timeout_s = 10;        // a reader that stops reading is dropped after this long
  std::string worker_id;           // WorkerInfo.id ("" -> "sd-worker-<port>")
  std::string device;              // WorkerInfo.device ("" -> the worker's)
  std::string version = "0.1.0";
  ParseOptions jobs;               // served model, validation limits, default previews
  // The --embeddings-dir folders (GET /v1/embeddings); null or empty: none.
  std::shared_ptr<EmbeddingLibrary> embeddings;
  // serve --stage: the node links (GET /v1/models "stages", /metrics sdw_stage_*); null: none.
  std::shared_ptr<const RemoteStatus> remote_status;
  std::shared_ptr<const BatchStats> batch_stats;  // the denoisers' batch sizes (/metrics); null: none
  bool serve_ui = true;            // GET /ui/: the web app (--no-ui turns it off)
  std::string ui_dir;              // the built app's folder (ui/dist); "" when none was found
  bool log_requests = true;
  std::function<void(const std::string& line)> log;  // default: stderr
};

}  // namespace sdw::net
