// release_mapped_pages (model/safetensors/mapped_pages.h): a tensor read from a mapped safetensors
// file leaves the RSS once released and reads the same values afterwards; heap tensors and
// tensors of a file already closed are never touched.
#include <catch.hpp>

#include <fstream>
#include <string>

#include "model/safetensors/mapped_pages.h"
#include "model/safetensors/safetensors.h"
#include "test_util.h"

using namespace sdw;

namespace {

int64_t rss_file_bytes() {  // the file-backed part of the RSS
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("RssFile:", 0) == 0) return std::stoll(line.substr(8)) * 1024;
  return -1;
}

}  // namespace

TEST_CASE("a mapped tensor's pages leave the RSS once released and read the same values again", "[safetensors]") {
  test::TempDir tmp;
  const at::Tensor big = at::arange(4 * 1024 * 1024, at::kFloat).view({2048, 2048});  // 16 MiB
  const at::Tensor small = at::full({3}, 7.0f);
  save_safetensors(tmp.file("w.safetensors"), {{"big", big}, {"small", small}});
  at::Tensor heap_copy = big.clone();
  {
    const SafetensorsFile f = SafetensorsFile::open(tmp.file("w.safetensors"));
    const at::Tensor t = f.get("big");
    CHECK(at::equal(t, big));  // every page touched
    const int64_t resident = rss_file_bytes();
    REQUIRE(resident >= 0);
    const size_t released = release_mapped_pages(t);
    CHECK(released >= size_t{16} << 20);
    CHECK(released <= (size_t{16} << 20) + 2 * 4096);
    CHECK(rss_file_bytes() <= resident - (int64_t{15} << 20));
    CHECK(at::equal(t, big));             // faulted in again from the file
    CHECK(at::equal(f.get("small"), small));  // its neighbour too
    // Heap memory is never advised (it would read back as zeros).
    CHECK(release_mapped_pages(heap_copy) == 0);
    CHECK(at::equal(heap_copy, big));
  }
  // The file is closed (its mapping gone): nothing is looked up there any more.
  CHECK(release_mapped_pages(heap_copy) == 0);
  CHECK(release_mapped_pages(at::Tensor()) == 0);
}
