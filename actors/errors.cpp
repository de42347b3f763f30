// Errors of the actor layer (see errors.h).
#include "actors/errors.h"

#include <caf/message.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>

#include <new>

#include "model/pipeline/generate.h"
#include "model/pipeline/request.h"

namespace sdw::actors {

caf::error make_sd_error(WorkerErrc code, const std::string& message) { return caf::error{code, message}; }

std::string error_message(const caf::error& err) {
  if (!err) return "";
  const caf::message& ctx = err.context();
  if (err.category() == caf::atom("sd_errc") && ctx.match_elements<std::string>()) return ctx.get_as<std::string>(0);
  if (err.category() == caf::atom("system")) {
    auto code = static_cast<caf::sec>(err.code());
    std::string text = caf::to_string(code);
    if (!ctx.empty()) text += " (" + caf::to_string(ctx) + ")";
    return text;
  }
  if (err.category() == caf::atom("exit")) return "actor exited: " + caf::to_string(static_cast<caf::exit_reason>(err.code()));
  return caf::to_string(err);
}

WorkerErrc error_code(const caf::error& err) {
  if (!err) return WorkerErrc::internal;
  if (err.category() == caf::atom("sd_errc")) return static_cast<WorkerErrc>(err.code());
  if (err.category() == caf::atom("system") && static_cast<caf::sec>(err.code()) == caf::sec::request_timeout)
    return WorkerErrc::timeout;
  return WorkerErrc::internal;
}

WorkerError to_worker_error(const caf::error& err) {
  const WorkerErrc code = error_code(err);
  std::string msg = error_message(err);
  if (msg.empty()) msg = to_string(code);
  return WorkerError(code, msg);
}

namespace {

bool mentions_oom(const std::string& what) {
  return what.find("out of memory") != std::string::npos || what.find("can't allocate memory") != std::string::npos ||
         what.find("Out of memory") != std::string::npos || what.find("OutOfMemory") != std::string::npos;
}

}  // namespace

caf::error classify_exception(std::exception_ptr ex, const std::string& stage) {
  try {
    std::rethrow_exception(ex);
  } catch (const WorkerError& e) {
    return make_sd_error(e.code(), e.what());
  } catch (const RequestError& e) {
    return make_sd_error(WorkerErrc::invalid_request, e.what());
  } catch (const CancelledError&) {
    return make_sd_error(WorkerErrc::cancelled, "cancelled");
  } catch (const std::bad_alloc&) {
    return make_sd_error(WorkerErrc::out_of_memory, stage + ": out of memory (allocation failed)");
  } catch (const std::exception& e) {
    std::string what = e.what();
    // libtorch's messages carry a C++ backtrace after the first line: keep the first line.
    const auto nl = what.find('\n');
    if (nl != std::string::npos) what.resize(nl);
    if (mentions_oom(what)) return make_sd_error(WorkerErrc::out_of_memory, stage + ": out of memory: " + what);
    return make_sd_error(WorkerErrc::internal, stage + " failed: " + what);
  } catch (...) {
    return make_sd_error(WorkerErrc::internal, stage + " failed with an unknown exception");
  }
}

}  // namespace sdw::actors
