// The writer actor: turns a finished job's images (RGB pixels from the decoder) into files, PNG
// with the A1111 "parameters" chunk or JPEG, off the device: the job registry keeps one per device
// slot, spawned detached (a thread of its own), so PNG compression neither blocks CAF's scheduler
// threads nor the device thread, and the device takes its next job while the last one is written.
#pragma once

#include <caf/actor_system.hpp>

#include <functional>
#include <string>

#include "actors/interfaces.h"

namespace sdw::actors {

// What a writer is given at spawn: whose images it writes (for messages) and the fault hook.
struct writer_env {
  std::string device_name = "cpu";
  bool own_thread = true;  // false: on the actor system's scheduler (WorkerConfig::own_threads)
  std::function<void(const std::string&)> fault_injection;

  // Calls the fault hook, if any, with `point`.
  void fault(const std::string& point) const {
    if (fault_injection) fault_injection(point);
  }
};

// An exception while encoding becomes the reply's error (classify_exception, naming "writer of
// <device>"); an exception in the handler itself (fault point "writer/actor") ends the actor.
writer_actor::behavior_type writer(writer_actor::pointer self, writer_env env);

// Spawns a writer (detached).
writer_actor spawn_writer(caf::actor_system& system, const writer_env& env);

// The files of `images`: PNG with `parameters` as its "parameters" chunk, or JPEG at the quality.
std::vector<EncodedImage> encode_images(const std::vector<Image>& images, const OutputFormat& format,
                                        const std::string& parameters);

}  // namespace sdw::actors
