// The ParseOptions the HTTP parsers' unit tests use: the demo model served under its own name.
#pragma once

#include "net/http/operations.h"

namespace sdw::test {

inline net::ParseOptions demo_parse_options() {
  net::ParseOptions o;
  o.model.name = "demo";
  return o;
}

}  // namespace sdw::test
