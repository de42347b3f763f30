// Parsing a `--stage STAGE=HOST:PORT` (see remote_types.h).
#include "actors/remote_types.h"

#include <stdexcept>

namespace sdw {

StageNodeAddress parse_stage_node(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos)
    throw std::invalid_argument("--stage wants STAGE=HOST:PORT (e.g. denoiser=10.0.0.2:7900), got '" + text + "'");
  StageNodeAddress a;
  a.stage = text.substr(0, eq);
  if (a.stage != "encoder" && a.stage != "denoiser" && a.stage != "decoder")
    throw std::invalid_argument("--stage: unknown stage '" + a.stage + "' (encoder, denoiser or decoder)");
  const std::string hp = text.substr(eq + 1);
  const auto colon = hp.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == hp.size())
    throw std::invalid_argument("--stage " + a.stage + ": want HOST:PORT, got '" + hp + "'");
  a.host = hp.substr(0, colon);
  if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']') a.host = a.host.substr(1, a.host.size() - 2);
  const std::string port = hp.substr(colon + 1);
  size_t used = 0;
  long p = -1;
  try {
    p = std::stol(port, &used);
  } catch (const std::exception&) {
  }
  if (used != port.size() || p < 1 || p > 65535)
    throw std::invalid_argument("--stage " + a.stage + ": port '" + port + "' is not a number in 1..65535");
  a.port = static_cast<uint16_t>(p);
  return a;
}

}  // namespace sdw
