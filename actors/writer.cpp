// The writer actor (see writer.h).
#include "actors/writer.h"

#include <caf/spawn_options.hpp>

#include <chrono>

#include "actors/errors.h"
#include "model/image/image_io.h"

namespace sdw::actors {

std::vector<EncodedImage> encode_images(const std::vector<Image>& images, const OutputFormat& format,
                                        const std::string& parameters) {
  format.check();
  std::vector<EncodedImage> out;
  out.reserve(images.size());
  for (const Image& image : images) out.push_back(format.encode(image, parameters));
  return out;
}

writer_actor::behavior_type writer(writer_actor::pointer self, writer_env env) {
  return {
      [=](write_atom, const std::string& job, const OutputFormat& format, const std::vector<Image>& images,
          const std::string& parameters) -> caf::result<write_result> {
        env.fault("writer/actor");
        try {
          env.fault("writer");
          const auto t0 = std::chrono::steady_clock::now();
          write_result r;
          r.images = encode_images(images, format, parameters);
          r.image_encode_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
          return r;
        } catch (...) {
          return classify_exception(std::current_exception(), "writer of " + env.device_name);
        }
      },
  };
}

writer_actor spawn_writer(caf::actor_system& system, const writer_env& env) {
  if (!env.own_thread) return system.spawn(writer, env);
  return system.spawn<caf::detached>(writer, env);
}

}  // namespace sdw::actors
