// libFuzzer target: `POST /v1/jobs` bodies through parse_job_request (net/http/operations.cpp:
// json_body's bounded SAX parse, validation, base64 images). Every body must either give a job
// within the limits or an ApiError 400 whose error JSON renders; any other exception (a 500 at
// the server), crash, leak or undefined behaviour is a finding.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "net/http/errors.h"
#include "net/http/operations.h"

namespace {

using namespace sdw;
using namespace sdw::net;

ParseOptions served_options() {
  ParseOptions o;
  o.model.name = "demo";
  o.model.aliases = {"sd15", "tiny"};
  return o;
}

void check_side(int value, const ValidationLimits& limits) {
  SDW_FUZZ_CHECK(value % 8 == 0 && value >= limits.min_side && value <= limits.max_side);
}

void check_job(const JobRequest& job, const ParseOptions& o) {
  const ValidationLimits& limits = o.limits;
  const GenerationRequest& r = job.submission.request;
  SDW_FUZZ_CHECK(o.model.accepts(job.model));
  SDW_FUZZ_CHECK(!r.prompt.empty() && r.prompt.size() <= limits.max_prompt_bytes);
  SDW_FUZZ_CHECK(r.steps >= 1 && r.steps <= limits.max_steps);
  SDW_FUZZ_CHECK(r.num_images >= 1 && r.num_images <= limits.max_images);
  SDW_FUZZ_CHECK(r.clip_skip >= 1 && r.clip_skip <= limits.max_clip_skip);
  SDW_FUZZ_CHECK(r.guidance && *r.guidance >= 0 && *r.guidance <= limits.max_guidance);
  SDW_FUZZ_CHECK(r.eta >= 0 && r.eta <= 1);
  if (r.width != 0) check_side(r.width, limits);
  if (r.height != 0) check_side(r.height, limits);
  if (r.mode == GenerationMode::txt2img) {
    SDW_FUZZ_CHECK(r.width != 0 && r.height != 0);
    SDW_FUZZ_CHECK(int64_t(r.width) * r.height <= limits.max_pixels);
    return;
  }
  SDW_FUZZ_CHECK(!r.strength || (*r.strength > 0 && *r.strength <= 1));  // absent: the model's default
  check_image(r.init_image);
  SDW_FUZZ_CHECK(int64_t(r.init_image.width) * r.init_image.height <= limits.max_input_pixels);
  if (r.mode == GenerationMode::inpaint) {
    check_image(r.mask_image);
    SDW_FUZZ_CHECK(r.mask_image.width == r.init_image.width && r.mask_image.height == r.init_image.height);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ParseOptions options = served_options();
  const std::string body(reinterpret_cast<const char*>(data), size);
  try {
    check_job(parse_job_request(body, options), options);
  } catch (const ApiError& e) {
    SDW_FUZZ_CHECK(e.status() == 400);
    SDW_FUZZ_CHECK(!e.code().empty());
    SDW_FUZZ_CHECK(!dump_json(error_json(e, "req-fuzz")).empty());  // what the server sends
  }
  return 0;
}
