// The embeddings listing (see embedding_handlers.h).
#include "net/http/embedding_handlers.h"

#include <httplib.h>

#include "model/embeddings/embedding_library.h"
#include "net/http/errors.h"

namespace sdw::net {

void handle_embeddings(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  nlohmann::json data = nlohmann::json::array();
  if (ctx.config.embeddings) {
    const WorkerHealth health = ctx.worker.health();
    for (const EmbeddingEntry& e : ctx.config.embeddings->entries()) {
      nlohmann::json item = {{"name", e.name}, {"file", e.file.filename().string()}, {"size_bytes", e.size}};
      if (!e.embedding) {
        item["error"] = e.error;
        data.push_back(std::move(item));
        continue;
      }
      const TextualInversion& t = *e.embedding;
      item["prompt_name"] = t.name;
      if (!t.token.empty()) item["token"] = t.token;
      item["format"] = t.format;
      item["vectors"] = t.num_vectors();
      item["widths"] = t.is_sdxl() ? nlohmann::json{t.vectors.size(1), t.vectors_2.size(1)} : nlohmann::json{t.vectors.size(1)};
      if (health.text_width > 0) {
        const std::string why = t.mismatch(health.text_width, health.text_width_2);
        item["usable"] = why.empty();
        if (!why.empty()) item["reason"] = why;
      }
      data.push_back(std::move(item));
    }
  }
  send_json(res, 200, {{"object", "list"}, {"data", data}});
}

void handle_a1111_embeddings(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  nlohmann::json loaded = nlohmann::json::object(), skipped = nlohmann::json::object();
  if (ctx.config.embeddings) {
    const WorkerHealth health = ctx.worker.health();
    for (const EmbeddingEntry& e : ctx.config.embeddings->entries()) {
      if (!e.embedding) continue;
      const TextualInversion& t = *e.embedding;
      const nlohmann::json item = {{"step", nullptr}, {"sd_checkpoint", nullptr}, {"sd_checkpoint_name", nullptr},
                                   {"shape", t.vectors.size(1)}, {"vectors", t.num_vectors()}};
      const bool fits = health.text_width == 0 || t.mismatch(health.text_width, health.text_width_2).empty();
      (fits ? loaded : skipped)[t.name] = item;
    }
  }
  send_json(res, 200, {{"loaded", loaded}, {"skipped", skipped}});
}

}  // namespace sdw::net
