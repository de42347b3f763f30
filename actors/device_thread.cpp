// The device thread (see device_thread.h).
#include "actors/device_thread.h"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>

#include "actors/errors.h"

#include <ATen/Parallel.h>

namespace sdw::actors {

device_thread_actor::behavior_type device_thread(device_thread_actor::pointer self, std::string device_name) {
  return {
      [=](run_atom, device_task& task) -> caf::result<ok_atom> {
        // libtorch's OpenMP thread count is a per-thread setting: take the process's (runtime/
        // cpu_threads.h) on this thread before its first work.
        static thread_local bool threads_set = false;
        if (!threads_set) {
          at::init_num_threads();
          threads_set = true;
        }
        try {
          task.fn();
          return ok_atom::value;
        } catch (...) {
          return classify_exception(std::current_exception(), task.stage + " on " + device_name);
        }
      },
  };
}

device_thread_actor spawn_device_thread(caf::actor_system& system, const std::string& device_name,
                                        bool own_thread) {
  if (!own_thread) return system.spawn(device_thread, device_name);
  return system.spawn<caf::detached>(device_thread, device_name);
}

}  // namespace sdw::actors
