// Errors of the actor layer: the worker's one error code enum, WorkerErrc (job_types.h), is a CAF
// error code enum (category "sd_errc"), so a failure travels as an ordinary `caf::error` in
// responses (also between processes); the facade turns it back into a WorkerError. Also:
// classifying a stage's C++ exception into a WorkerErrc.
#pragma once

#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include <exception>
#include <string>

#include "actors/job_types.h"

namespace sdw::actors {

// A WorkerErrc error whose context carries `message` (a human-readable reason).
caf::error make_sd_error(WorkerErrc code, const std::string& message);

// The reason text of an error made by make_sd_error (or CAF's own rendering of other errors).
std::string error_message(const caf::error& err);
// The code of an error; CAF's request_timeout -> timeout, other CAF errors -> internal.
WorkerErrc error_code(const caf::error& err);
WorkerError to_worker_error(const caf::error& err);

// A stage's exception as an error: WorkerError -> its code, RequestError -> invalid_request,
// allocation failures (std::bad_alloc, libtorch's "can't allocate memory", CUDA "out of memory")
// -> out_of_memory, anything else -> internal; the message names the stage.
caf::error classify_exception(std::exception_ptr ex, const std::string& stage);

}  // namespace sdw::actors

CAF_ERROR_CODE_ENUM(sdw::WorkerErrc, "sd_errc")
