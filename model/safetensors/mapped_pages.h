// Resident pages of mapped safetensors files. A tensor read from a file is a view into its
// read-only private mapping; once its values are copied into a parameter, the pages it touched
// still count in the process's RSS until the mapping goes (after the whole component is loaded),
// so a loader peaked at the loaded weights plus the component's file. `release_mapped_pages`
// drops them right after the copy (madvise MADV_DONTNEED: a later read faults them in again from
// the file, same values). Measured effect: docs/memory.md ("Loading").
#pragma once

#include <ATen/ATen.h>

#include <cstddef>

namespace sdw {

// The live file mappings (SafetensorsFile::open registers its mapping, its destructor removes it).
void register_mapping(const void* addr, size_t size);
void unregister_mapping(const void* addr);

// Drops the resident pages of `t`'s bytes if they lie in a live file mapping; a no-op for any
// other tensor (heap memory is never touched). Returns the bytes advised (whole pages).
size_t release_mapped_pages(const at::Tensor& t);

}  // namespace sdw
