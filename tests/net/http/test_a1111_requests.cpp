// net/http/a1111_requests without a server: A1111 bodies -> jobs. One job per image with A1111's
// seeds (seed + k over n_iter x batch_size), prompts read with A1111's syntax (a weight it cannot
// read is a 400 naming the field), the empty prompt accepted, inpainting_fill 0-3 mapped to the
// job's InpaintFill (other values refused), and the mask as A1111 prepares it (binarised at > 128, inverted, then blurred).
#include <catch.hpp>

#include "model/image/gaussian_blur.h"
#include "model/image/image_io.h"
#include "net/http/a1111_requests.h"
#include "net/http/errors.h"
#include "parse_options.h"

using namespace sdw;
using namespace sdw::net;
using nlohmann::json;

namespace {

ParseOptions options() { return test::demo_parse_options(); }

Image gray(int w, int h, std::vector<uint8_t> pixels) {
  Image img;
  img.width = w, img.height = h, img.channels = 1;
  img.pixels = std::move(pixels);
  return img;
}

std::string field_of(const json& body, bool img2img = false) {
  try {
    img2img ? parse_a1111_img2img(body, options()) : parse_a1111_txt2img(body, options());
  } catch (const ApiError& e) {
    return e.param();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("one job per image: seeds seed + k over n_iter x batch_size, A1111's prompt syntax", "[a1111]") {
  const A1111Request r = parse_a1111_txt2img({{"prompt", "a (b:1.2)"}, {"seed", 40u}, {"batch_size", 3}, {"n_iter", 2}}, options());
  REQUIRE(r.iterations.size() == 6);
  for (size_t k = 0; k < 6; ++k) {
    const GenerationRequest& g = r.iterations[k].submission.request;
    CHECK(g.seed == 40 + k);
    CHECK(g.num_images == 1);
    CHECK(g.prompt_syntax == PromptSyntax::a1111);
    CHECK(g.prompt == "a (b:1.2)");  // the text as written: weights are read when it is encoded
  }
  CHECK(r.batch_size == 3);
  CHECK(r.n_iter == 2);
}

TEST_CASE("the empty prompt is a prompt; unreadable weights and fills out of 0-3 are refused", "[a1111]") {
  CHECK(parse_a1111_txt2img({{"prompt", ""}}, options()).iterations.at(0).submission.request.prompt.empty());
  CHECK(parse_a1111_txt2img(json::object(), options()).iterations.size() == 1);
  CHECK(field_of({{"prompt", "a (b:1.2.3)"}}) == "prompt");
  CHECK(field_of({{"prompt", "a"}, {"negative_prompt", "(x:.)"}}) == "negative_prompt");
  const std::string png = encode_base64(encode_png(gray(8, 8, std::vector<uint8_t>(64, 255))));
  const json img2img = {{"prompt", "a"}, {"init_images", json::array({png})}, {"mask", png}};
  // A1111's numbers, in its order: 0 fill, 1 original, 2 latent noise, 3 latent nothing.
  const InpaintFill fills[] = {InpaintFill::fill, InpaintFill::original, InpaintFill::latent_noise, InpaintFill::latent_nothing};
  for (int fill : {0, 1, 2, 3}) {
    json body = img2img;
    body["inpainting_fill"] = fill;
    const A1111Request r = parse_a1111_img2img(body, options());
    CHECK(r.iterations.at(0).submission.request.inpaint_fill == fills[fill]);
  }
  for (int fill : {-1, 4}) {
    json body = img2img;
    body["inpainting_fill"] = fill;
    CHECK(field_of(body, true) == "inpainting_fill");
  }
  json body = img2img;
  body["mask_blur"] = 65;
  CHECK(field_of(body, true) == "mask_blur");
  body["mask_blur"] = 0;
  body["inpainting_fill"] = 1;
  CHECK(field_of(body, true) == "(accepted)");
  // Without a mask inpainting_fill does nothing in A1111 and is not refused.
  body.erase("mask");
  body["inpainting_fill"] = 0;
  CHECK(field_of(body, true) == "(accepted)");
  CHECK(parse_a1111_img2img(body, options()).iterations.at(0).submission.request.inpaint_fill == InpaintFill::original);
}

TEST_CASE("the mask as A1111 prepares it: > 128 is masked, inverted, then blurred", "[a1111]") {
  // 128 is not masked (A1111's point(lambda x: 255 if x > 128 else 0)), 129 is.
  CHECK(a1111_mask(gray(4, 1, {0, 128, 129, 255}), false, 0).pixels == std::vector<uint8_t>{0, 0, 255, 255});
  CHECK(a1111_mask(gray(4, 1, {0, 128, 129, 255}), true, 0).pixels == std::vector<uint8_t>{255, 255, 0, 0});
  // Blur after the binarisation: the binary mask blurred, not the gray one.
  const Image soft = gray(7, 1, {0, 0, 0, 200, 0, 0, 0});
  CHECK(a1111_mask(soft, false, 1).pixels == gaussian_blur_a1111(gray(7, 1, {0, 0, 0, 255, 0, 0, 0}), 1).pixels);
  // The job's mask is the prepared one.
  const std::string png = encode_base64(encode_png(gray(8, 8, std::vector<uint8_t>(64, 200))));
  const A1111Request r = parse_a1111_img2img({{"prompt", "a"}, {"init_images", json::array({png})}, {"mask", png},
                                              {"inpainting_mask_invert", 1}, {"mask_blur", 0}, {"batch_size", 2}},
                                             options());
  REQUIRE(r.iterations.size() == 2);
  for (const JobRequest& j : r.iterations) CHECK(j.submission.request.mask_image.pixels == std::vector<uint8_t>(64, 0));
}

TEST_CASE("override_settings.sd3_enable_t5 is the job's t5; a non-boolean is refused naming it", "[a1111]") {
  const auto t5_of = [](const json& body) { return parse_a1111_txt2img(body, options()).iterations.at(0).submission.request.t5; };
  CHECK_FALSE(t5_of({{"prompt", "a"}}).has_value());
  CHECK(t5_of({{"prompt", "a"}, {"override_settings", {{"sd3_enable_t5", false}}}}) == false);
  CHECK(t5_of({{"prompt", "a"}, {"override_settings", {{"sd3_enable_t5", true}}}}) == true);
  CHECK(field_of({{"prompt", "a"}, {"override_settings", {{"sd3_enable_t5", "no"}}}}) == "override_settings.sd3_enable_t5");
}
