// net/http/openai_images without a server: the worker's extension fields on the OpenAI Images
// routes reach the job as on the rbee route (SD3's t5 and max_sequence_length, vae_tiling), in a
// JSON body and as multipart form text; a malformed value is a 400 naming the field.
#include <catch.hpp>

#include <nlohmann/json.hpp>

#include "model/image/image_io.h"
#include "net/http/errors.h"
#include "net/http/openai_images.h"
#include "parse_options.h"

using namespace sdw;
using namespace sdw::net;
using nlohmann::json;

namespace {

ParseOptions options() { return test::demo_parse_options(); }

// The field a parse refuses, or "(accepted)".
template <class Parse>
std::string refused_field(Parse parse) {
  try {
    parse();
  } catch (const ApiError& e) {
    return e.param();
  }
  return "(accepted)";
}

FormParts edit_form(const std::map<std::string, std::string>& text) {
  Image rgb{256, 256, 3, std::vector<uint8_t>(256 * 256 * 3, 120)};
  FormParts form{{"image", FormPart{encode_png(rgb), "in.png"}}, {"prompt", FormPart{"a red fox", ""}}};
  for (const auto& [k, v] : text) form.emplace(k, FormPart{v, ""});
  return form;
}

}  // namespace

TEST_CASE("OpenAI generations carry t5, max_sequence_length and vae_tiling to the job", "[http][openai]") {
  const GenerationRequest plain = parse_openai_generation({{"prompt", "a red fox"}}, options()).job.submission.request;
  CHECK_FALSE(plain.t5.has_value());
  CHECK(plain.max_sequence_length == 0);
  CHECK_FALSE(plain.vae_tiling.has_value());
  const GenerationRequest r =
      parse_openai_generation({{"prompt", "a red fox"}, {"t5", false}, {"max_sequence_length", 77}, {"vae_tiling", true}}, options())
          .job.submission.request;
  CHECK(r.t5 == false);
  CHECK(r.max_sequence_length == 77);
  CHECK(r.vae_tiling == true);
  for (const auto& [field, value] : std::vector<std::pair<std::string, json>>{
           {"t5", "no"}, {"max_sequence_length", 513}, {"max_sequence_length", 0}, {"vae_tiling", 1}}) {
    json body = {{"prompt", "a red fox"}};
    body[field] = value;
    INFO(field << " = " << value.dump());
    CHECK(refused_field([&] { parse_openai_generation(body, options()); }) == field);
  }
}

TEST_CASE("OpenAI edits read those fields from form text", "[http][openai]") {
  const GenerationRequest r =
      parse_openai_edit(edit_form({{"t5", "false"}, {"max_sequence_length", "128"}, {"vae_tiling", "true"}}), options())
          .job.submission.request;
  CHECK(r.mode == GenerationMode::img2img);
  CHECK(r.t5 == false);
  CHECK(r.max_sequence_length == 128);
  CHECK(r.vae_tiling == true);
  CHECK(refused_field([] { parse_openai_edit(edit_form({{"t5", "maybe"}}), options()); }) == "t5");
  CHECK(refused_field([] { parse_openai_edit(edit_form({{"max_sequence_length", "600"}}), options()); }) == "max_sequence_length");
}
