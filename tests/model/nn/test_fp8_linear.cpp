// --dtype fp8 where it cannot run (model/nn/fp8_linear.h): this CPU build's libtorch (1.13) has no
// fp8 tensors, so the path is compiled out and every way in refuses with a message naming what is
// missing; a build that has it still refuses weights that are not on a CUDA device. The fp8
// products themselves are checked on a GPU (test_device_parity, bench/gpu_check.sh).
#include <catch.hpp>

#include "model/loading/diffusers_folder.h"
#include "model/nn/fp8_linear.h"
#include "model/pipeline/sd_model.h"
#include "test_util.h"

using namespace sdw;

TEST_CASE("fp8 refuses clearly where the build or the device lacks it", "[nn][fp8]") {
  auto unet = load_unet(test::fixture("pipelines/tiny-sd15/unet"), at::kFloat);
  try {
    nn::quantize_linears_fp8(*unet);
    FAIL("quantized CPU weights");
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    INFO(what);
    if (nn::fp8_compiled()) CHECK(what.find("no Linear layer on a CUDA device") != std::string::npos);
    else CHECK(what.find("PyTorch 2.4") != std::string::npos);
  }
  // A model asked to load with fp8 on the CPU is refused before any job.
  ModelLoadOptions o;
  o.fp8 = true;
  o.dtype = at::kHalf;
  CHECK_THROWS_WITH(load_diffusers_model(test::fixture("pipelines/tiny-sd15"), o),
                    Catch::Matchers::Contains("--dtype fp8 needs a CUDA GPU"));
}
