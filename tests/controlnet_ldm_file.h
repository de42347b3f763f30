// A diffusers ControlNet folder of the tiny fixtures' layout written as one lllyasviel / A1111
// ControlLDM .safetensors file. The names come from a table written by hand from ControlLDM's module
// tree (cldm.py: time_embed, input_blocks, input_hint_block Sequential, zero_convs, middle_block,
// middle_block_out; SGM's label_emb) for the two tiny layouts (two levels of two resnets, a
// downsampler after the first, attention on level 0 for tiny-controlnet-sd15 or level 1 for the
// tiny SDXL ControlNet, 6 zero convs, a 2-step conditioning embedding), independently of the
// loader's rules (model/loading/controlnet_single_file.cpp), so a wrong rule there fails the tests.
#pragma once

#include <string>

#include "test_util.h"

namespace sdw::test {

// Writes `<tmp>/<file>` with every tensor of `folder` under `prefix` + its ControlLDM name; throws
// std::runtime_error for a tensor the table has no name for.
std::string write_controlnet_ldm(const TempDir& tmp, const std::string& folder, const std::string& file,
                                 const std::string& prefix, bool sdxl);

}  // namespace sdw::test
