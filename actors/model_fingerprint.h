// What must agree between a front worker and a node before a stage runs there: the model's family,
// a hash of its configuration (pipeline class, scheduler config, every parameter's name, shape
// and dtype, and the first values of each, which tells two same-shaped models apart) and its
// dtype. The label travels too (it is written into the PNG parameters) but is not compared.
#pragma once

#include <string>

namespace sdw {
struct SdModel;
}

namespace sdw::actors {

struct model_fingerprint {
  std::string family, config_hash, dtype, label;
};

// Reads the model's parameters (a few values of each); call it once per loaded model.
model_fingerprint fingerprint_of(const SdModel& model, const std::string& label);

// "" when `node` may serve `front`'s model; otherwise why not, naming both sides' values.
std::string fingerprint_mismatch(const model_fingerprint& front, const model_fingerprint& node);

}  // namespace sdw::actors
