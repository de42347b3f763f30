// Works around CAF 0.17 keeping a request's timeout in the actor clock until it fires, even when
// the response came long before: with timeouts of minutes and several requests per job (one per
// denoising step), those entries grew the worker by ~1.7 KiB per job with the default 10-minute
// stage timeout (measured over 1200 jobs; flat with a 3 s timeout). Response handlers call
// forget_timeout(self, id) with the request's id (response_handle::id()), which drops the entry:
// with it the growth was flat again.
#pragma once

#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>
#include <caf/message_id.hpp>

namespace sdw::actors {

template <class Self>
void forget_timeout(Self* self, caf::message_id request_id) {
  self->home_system().clock().cancel_request_timeout(self, request_id);
}

}  // namespace sdw::actors
