// Typed errors of the actor layer: `sd_errc` is a CAF error code enum (category "sd_errc"), so a
// failure travels as an ordinary `caf::error` in responses (also between processes); the facade
// turns it into a WorkerError. Also: classifying a stage's C++ exception into an sd_errc.
#pragma once

#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include <exception>
#include <stdexcept>
#include <string>

#include "actors/worker.h"

namespace sdw::actors {

// Same numeric values as sdw::WorkerErrc.
enum class sd_errc : uint8_t {
  invalid_request = 1,
  model_not_found,
  out_of_memory,
  queue_full,
  cancelled,
  timeout,
  not_found,
  already_finished,
  shutting_down,
  not_ready,
  internal,
};

const char* to_string(sd_errc code);

// An sd_errc error whose context carries `message` (a human-readable reason).
caf::error make_sd_error(sd_errc code, const std::string& message);

// The reason text of an error made by make_sd_error (or CAF's own rendering of other errors).
std::string error_message(const caf::error& err);
// The sd_errc of an error; CAF's request_timeout -> timeout, other CAF errors -> internal.
sd_errc error_code(const caf::error& err);
WorkerErrc to_worker_errc(sd_errc code);
WorkerError to_worker_error(const caf::error& err);

// Thrown inside stage work to fail with a specific code (e.g. the loader's out_of_memory).
class StageError : public std::runtime_error {
 public:
  StageError(sd_errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
  sd_errc code() const { return code_; }

 private:
  sd_errc code_;
};

// A stage's exception as an error: StageError -> its code, RequestError -> invalid_request, allocation failures
// (std::bad_alloc, libtorch's "can't allocate memory", CUDA "out of memory") -> out_of_memory,
// anything else -> internal; the message names the stage.
caf::error classify_exception(std::exception_ptr ex, const std::string& stage);

}  // namespace sdw::actors

CAF_ERROR_CODE_ENUM(sdw::actors::sd_errc, "sd_errc")
