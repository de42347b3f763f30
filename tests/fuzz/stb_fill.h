// The fill byte of stb_image's allocations in the fuzz targets (stb_image_impl.cpp): a target
// decodes under two fills and compares, to catch pixels made of uninitialised memory.
#pragma once

void sdw_fuzz_set_stb_fill(unsigned char byte);
