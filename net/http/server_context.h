// What every route handler gets: the worker facade, the server's settings, its metrics and the
// AUTOMATIC1111 API's session.
#pragma once

#include <atomic>

#include "actors/worker.h"
#include "net/http/a1111_session.h"
#include "net/http/http_config.h"
#include "net/http/job_observer.h"
#include "net/http/metrics.h"

namespace sdw::net {

struct ServerContext {
  Worker& worker;
  const HttpConfig& config;
  Metrics& metrics;
  JobObserver& observer;
  std::atomic<int> port{0};  // the bound port
  A1111Session a1111{};      // the AUTOMATIC1111 API's current request (progress, interrupt, skip)
};

}  // namespace sdw::net
