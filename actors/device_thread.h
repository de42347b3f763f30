// The device's own thread: a detached actor that runs libtorch work (model loading, encoding,
// denoising steps, decoding) one task at a time for every stage actor pinned to the device, so
// tensor work never blocks CAF's scheduler threads and one device runs one thing at a time.
// Tasks are closures, so they exist only within one process: a stage on another node has its
// own device thread there.
#pragma once

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "actors/messages.h"
#include "actors/request_timeouts.h"

namespace sdw::actors {

// A piece of libtorch work. It runs on the device thread; an exception it throws becomes the
// reply's error (classify_exception with `stage`).
struct device_task {
  std::function<void()> fn;
  std::string stage;
};

}  // namespace sdw::actors

// A local closure: never serialised (see above).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sdw::actors::device_task)

namespace sdw::actors {

using device_thread_actor = caf::typed_actor<caf::replies_to<run_atom, device_task>::with<ok_atom>>;

device_thread_actor::behavior_type device_thread(device_thread_actor::pointer self, std::string device_name);

// Spawns the device thread (detached: it owns a thread of its own; `own_thread` false: on the
// actor system's scheduler, for deterministic tests).
device_thread_actor spawn_device_thread(caf::actor_system& system, const std::string& device_name,
                                        bool own_thread = true);

// Runs `fn` on the device thread from actor `self` and calls `done` (on `self`) with the outcome:
// an empty error on success, the task's classified exception, or a timeout after `timeout`.
template <class Self, class Done>
void run_on_device(Self* self, const device_thread_actor& thread, std::chrono::milliseconds timeout,
                   const std::string& stage, std::function<void()> fn, Done done) {
  auto handle = self->request(thread, timeout, run_atom::value, device_task{std::move(fn), stage});
  const caf::message_id id = handle.id();
  handle.then(
      [self, id, done](ok_atom) mutable {
        forget_timeout(self, id);
        done(caf::error{});
      },
      [self, id, done](caf::error& err) mutable {
        forget_timeout(self, id);
        done(err);
      });
}

// A stage's one-value reply: runs `fn` (returning a T) on the device thread and answers with its
// value or its error.
template <class T, class Self, class Fn>
caf::typed_response_promise<T> reply_from_device(Self* self, const device_thread_actor& thread,
                                                 std::chrono::milliseconds timeout, const std::string& stage, Fn fn) {
  auto rp = self->template make_response_promise<T>();
  auto out = std::make_shared<T>();
  run_on_device(
      self, thread, timeout, stage, [fn, out] { *out = fn(); },
      [rp, out](const caf::error& err) mutable {
        if (err)
          rp.deliver(err);
        else
          rp.deliver(std::move(*out));
      });
  return rp;
}

}  // namespace sdw::actors
