// Precompiled header for targets that use libtorch: the narrow set of ATen/torch headers the
// model code needs (torch/torch.h pulls in far more and compiles slowly on small machines).
#pragma once
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>
#include <nlohmann/json.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>
