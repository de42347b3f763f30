// net/ without a server: job request bodies, their validation and the rbee Operation mapping
// (every rule names its field): image_generation's defaults and field names, every validation
// rule, operation / body shape / JSON syntax errors, numbers out of range and nesting, NUL
// characters, and image_transform / image_inpaint with their images, strength and sizes.
#include <catch.hpp>

#include "model/image/image_io.h"
#include "net/http/errors.h"
#include "net/http/operations.h"
#include "net/http/validation.h"

using namespace sdw;
using namespace sdw::net;
using nlohmann::json;

namespace {

ParseOptions options() {
  ParseOptions o;
  o.model.name = "demo";
  o.model.aliases = {"tiny"};
  return o;
}

json base(const std::string& op = "image_generation") {
  return {{"operation", op}, {"hive_id", "hive-1"}, {"model", "demo"}, {"prompt", "a red fox"}};
}

// The ApiError a body gives (fails the test if it parses).
ApiError rejection(const json& body, const ParseOptions& o = options()) {
  try {
    parse_job_request(body, o);
  } catch (const ApiError& e) {
    return e;
  }
  FAIL("accepted: " << body.dump());
  throw std::logic_error("unreachable");
}

std::string png_base64(int w, int h, int channels = 3) {
  Image img;
  img.width = w;
  img.height = h;
  img.channels = channels;
  img.pixels.assign(static_cast<size_t>(w) * h * channels, 128);
  return encode_base64(encode_png(img));
}

}  // namespace

TEST_CASE("image_generation: rbee's defaults and field names", "[http][operations]") {
  const JobRequest job = parse_job_request(base(), options());
  CHECK(job.operation == "image_generation");
  CHECK(job.hive_id == "hive-1");
  CHECK(job.model == "demo");
  const GenerationRequest& r = job.submission.request;
  CHECK(r.mode == GenerationMode::txt2img);
  CHECK(r.prompt == "a red fox");
  CHECK_FALSE(r.negative_prompt.has_value());
  CHECK(r.steps == 20);
  CHECK(r.guidance.value() == Approx(7.5));
  CHECK_FALSE(r.seed.has_value());
  CHECK(r.width == 512);
  CHECK(r.height == 512);
  CHECK(r.num_images == 1);
  CHECK(job.submission.output.format == "png");
  CHECK(job.submission.preview_every == 0);
  CHECK_FALSE(job.submission.cancel_on_disconnect);

  json full = base();
  full.update({{"negative_prompt", "blurry"}, {"steps", 4}, {"guidance_scale", 3}, {"seed", 18446744073709551615ull},
               {"width", 264}, {"height", 1024}, {"loras", json::array()}, {"worker_id", "worker-cpu-9000"},
               {"scheduler", "Euler a"}, {"num_images", 2}, {"clip_skip", 2}, {"output_format", "JPG"},
               {"preview_every", 2}, {"cancel_on_disconnect", true}, {"jpeg_quality", 80}, {"eta", 0.5}, {"unknown_field", 1}});
  const JobRequest j2 = parse_job_request(full, options());
  CHECK(j2.worker_id == "worker-cpu-9000");
  CHECK(j2.submission.request.negative_prompt.value() == "blurry");
  CHECK(j2.submission.request.steps == 4);
  CHECK(j2.submission.request.guidance.value() == Approx(3.0));
  CHECK(j2.submission.request.seed.value() == 18446744073709551615ull);
  CHECK(j2.submission.request.width == 264);
  CHECK(j2.submission.request.height == 1024);
  CHECK(j2.submission.request.scheduler == "euler_a");
  CHECK(j2.submission.request.num_images == 2);
  CHECK(j2.submission.request.clip_skip == 2);
  CHECK(j2.submission.request.eta == Approx(0.5));
  CHECK(job.submission.request.eta == 0.0);
  CHECK(j2.submission.output.format == "jpeg");
  CHECK(j2.submission.output.jpeg_quality == 80);
  CHECK(j2.submission.preview_every == 2);
  CHECK(j2.submission.cancel_on_disconnect);

  json alias = base();
  alias["model"] = "tiny";
  CHECK(parse_job_request(alias, options()).model == "tiny");
  json seed_text = base();
  seed_text["seed"] = "12345678901234567890";
  CHECK(parse_job_request(seed_text, options()).submission.request.seed.value() == 12345678901234567890ull);
  json seed_null = base();
  seed_null["seed"] = nullptr;
  CHECK_FALSE(parse_job_request(seed_null, options()).submission.request.seed.has_value());
}

TEST_CASE("every validation rule answers 400 naming the field", "[http][validation]") {
  struct Case {
    const char* what;
    json patch;         // merged into the base body (null value: erase the key)
    const char* code;
    const char* field;  // must appear in the message
  };
  const std::vector<Case> cases = {
      {"missing prompt", {{"prompt", nullptr}}, "MISSING_FIELD", "prompt"},
      {"empty prompt", {{"prompt", ""}}, "INVALID_FIELD", "prompt"},
      {"blank prompt", {{"prompt", "  \n\t"}}, "INVALID_FIELD", "prompt"},
      {"huge prompt", {{"prompt", std::string(10001, 'a')}}, "INVALID_FIELD", "prompt"},
      {"prompt wrong type", {{"prompt", 5}}, "INVALID_FIELD", "prompt"},
      {"negative_prompt wrong type", {{"negative_prompt", json::array()}}, "INVALID_FIELD", "negative_prompt"},
      {"missing hive_id", {{"hive_id", nullptr}}, "MISSING_FIELD", "hive_id"},
      {"missing model", {{"model", nullptr}}, "MISSING_FIELD", "model"},
      {"unknown model", {{"model", "sdxl"}}, "MODEL_NOT_FOUND", "demo"},
      {"steps 0", {{"steps", 0}}, "INVALID_FIELD", "steps"},
      {"steps 151", {{"steps", 151}}, "INVALID_FIELD", "steps"},
      {"steps negative", {{"steps", -1}}, "INVALID_FIELD", "steps"},
      {"steps float", {{"steps", 20.5}}, "INVALID_FIELD", "steps"},
      {"steps 20.0", {{"steps", 20.0}}, "INVALID_FIELD", "steps"},
      {"steps string", {{"steps", "20"}}, "INVALID_FIELD", "steps"},
      {"steps huge", {{"steps", 1e30}}, "INVALID_FIELD", "steps"},
      {"steps u64", {{"steps", 18446744073709551615ull}}, "INVALID_FIELD", "steps"},
      {"guidance negative", {{"guidance_scale", -0.5}}, "INVALID_FIELD", "guidance_scale"},
      {"guidance 31", {{"guidance_scale", 31}}, "INVALID_FIELD", "guidance_scale"},
      {"guidance string", {{"guidance_scale", "7"}}, "INVALID_FIELD", "guidance_scale"},
      {"seed negative", {{"seed", -1}}, "INVALID_FIELD", "seed"},
      {"seed float", {{"seed", 1.5}}, "INVALID_FIELD", "seed"},
      {"seed overflow text", {{"seed", "18446744073709551616"}}, "INVALID_FIELD", "seed"},
      {"seed not digits", {{"seed", "12a"}}, "INVALID_FIELD", "seed"},
      {"seed bool", {{"seed", true}}, "INVALID_FIELD", "seed"},
      {"width not multiple of 8", {{"width", 260}}, "INVALID_FIELD", "width"},
      {"width too small", {{"width", 248}}, "INVALID_FIELD", "width"},
      {"height too big", {{"height", 2056}}, "INVALID_FIELD", "height"},
      {"height string", {{"height", "512"}}, "INVALID_FIELD", "height"},
      {"loras not array", {{"loras", "x"}}, "INVALID_FIELD", "loras"},
      {"lora without path", {{"loras", json::array({json::object()})}}, "MISSING_FIELD", "loras[0].path"},
      {"lora strength", {{"loras", json::array({{{"path", "a.safetensors"}, {"strength", 11}}})}}, "INVALID_FIELD", "loras[0].strength"},
      {"lora given", {{"loras", json::array({{{"path", "a.safetensors"}, {"strength", 1.0}}})}}, "LORA_NOT_FOUND", "no LoRA folders"},
      {"num_images 0", {{"num_images", 0}}, "INVALID_FIELD", "num_images"},
      {"num_images 9", {{"num_images", 9}}, "INVALID_FIELD", "num_images"},
      {"clip_skip 0", {{"clip_skip", 0}}, "INVALID_FIELD", "clip_skip"},
      {"eta 2", {{"eta", 2}}, "INVALID_FIELD", "eta"},
      {"eta string", {{"eta", "x"}}, "INVALID_FIELD", "eta"},
      {"scheduler unknown", {{"scheduler", "warp_drive"}}, "INVALID_FIELD", "scheduler"},
      {"scheduler wrong type", {{"scheduler", 3}}, "INVALID_FIELD", "scheduler"},
      {"output_format gif", {{"output_format", "gif"}}, "INVALID_FIELD", "output_format"},
      {"preview_every negative", {{"preview_every", -2}}, "INVALID_FIELD", "preview_every"},
      {"cancel_on_disconnect string", {{"cancel_on_disconnect", "yes"}}, "INVALID_FIELD", "cancel_on_disconnect"},
      {"worker_id wrong type", {{"worker_id", 7}}, "INVALID_FIELD", "worker_id"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    json body = base();
    for (auto it = c.patch.begin(); it != c.patch.end(); ++it) {
      if (it.value().is_null()) body.erase(it.key());
      else body[it.key()] = it.value();
    }
    const ApiError e = rejection(body);
    CHECK(e.status() == 400);
    CHECK(e.code() == c.code);
    CHECK_THAT(std::string(e.what()), Catch::Contains(c.field));
  }
}

TEST_CASE("operation, body shape and JSON syntax errors", "[http][validation]") {
  ApiError e = rejection(json{{"hive_id", "h"}});
  CHECK(e.code() == "MISSING_FIELD");
  CHECK_THAT(std::string(e.what()), Catch::Contains("operation"));
  json op = base("image_upscale");
  e = rejection(op);
  CHECK(e.code() == "UNKNOWN_OPERATION");
  for (const char* name : {"image_generation", "image_transform", "image_inpaint"})
    CHECK_THAT(std::string(e.what()), Catch::Contains(name));
  op["operation"] = 3;
  CHECK(rejection(op).code() == "UNKNOWN_OPERATION");
  CHECK(rejection(json::array()).code() == "INVALID_JSON");
  // Numbers parsed from text are unsigned when non-negative: the lower bound still applies.
  for (const char* text : {"{\"steps\":0}", "{\"num_images\":0}", "{\"clip_skip\":0}"}) {
    json parsed = base();
    parsed.update(json::parse(text));
    CHECK(rejection(parsed).code() == "INVALID_FIELD");
  }
  CHECK(rejection(json("text")).code() == "INVALID_JSON");

  for (const std::string body : std::vector<std::string>{std::string(""), std::string("{"), std::string("{\"operation\":}"), std::string("nul"),
                                 std::string("{\"prompt\":\"\xff\"}"), std::string(100000, '[')}) {
    try {
      parse_job_request(body, options());
      FAIL("accepted " << body.substr(0, 20));
    } catch (const ApiError& err) {
      CHECK(err.status() == 400);
      CHECK(err.code() == "INVALID_JSON");
    }
  }
}

TEST_CASE("numbers that overflow a double are 400 naming their field; nesting is bounded", "[http][validation]") {
  const std::string head = R"({"operation":"image_generation","hive_id":"h","model":"demo","prompt":"a",)";
  for (const std::string field : {"steps", "guidance_scale", "seed", "width", "num_images", "jpeg_quality", "eta"}) {
    for (const char* value : {"1e400", "-1e400"}) {
      INFO(field << " = " << value);
      try {
        parse_job_request(head + "\"" + field + "\":" + value + "}", options());
        FAIL("accepted");
      } catch (const ApiError& err) {
        CHECK(err.status() == 400);
        CHECK(err.code() == "INVALID_FIELD");
        CHECK(err.param() == field);
        CHECK_THAT(std::string(err.what()), Catch::Contains(field) && Catch::Contains("out of range"));
      }
    }
  }
  // 64 levels are JSON like any other (the unknown field is ignored); 65 are refused while read.
  auto nested = [&](int depth) { return head + "\"extra\":" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}"; };
  CHECK(parse_job_request(nested(64), options()).submission.request.prompt == "a");
  try {
    parse_job_request(nested(65), options());
    FAIL("accepted 65 levels");
  } catch (const ApiError& err) {
    CHECK(err.code() == "INVALID_JSON");
    CHECK_THAT(std::string(err.what()), Catch::Contains("deeper than 64"));
  }
}

TEST_CASE("a NUL character in a prompt is refused naming the field", "[http][validation]") {
  for (const char* field : {"prompt", "negative_prompt"}) {
    json body = base();
    body[field] = std::string("a red\0fox", 9);
    try {
      parse_job_request(body.dump(), options());
      FAIL("accepted a NUL in " << field);
    } catch (const ApiError& err) {
      CHECK(err.code() == "INVALID_FIELD");
      CHECK(err.param() == field);
      CHECK_THAT(std::string(err.what()), Catch::Contains("NUL"));
    }
  }
}

TEST_CASE("image_transform and image_inpaint: images, strength and sizes", "[http][validation]") {
  json t = base("image_transform");
  t["input_image"] = png_base64(320, 264);
  JobRequest job = parse_job_request(t, options());
  CHECK(job.submission.request.mode == GenerationMode::img2img);
  CHECK(!job.submission.request.strength);  // absent: the model's default, decided by the pipeline
  t["strength"] = 0.5;
  CHECK(parse_job_request(t, options()).submission.request.strength == 0.5);
  t.erase("strength");
  CHECK(job.submission.request.init_image.width == 320);
  CHECK(job.submission.request.width == 0);  // the image's size, decided by the pipeline

  t["input_image"] = "data:image/png;base64," + png_base64(320, 264);
  CHECK_NOTHROW(parse_job_request(t, options()));

  auto rejected = [&](json body, const std::string& code, const std::string& field) {
    const ApiError e = rejection(body);
    CHECK(e.status() == 400);
    CHECK(e.code() == code);
    CHECK_THAT(std::string(e.what()), Catch::Contains(field));
  };
  json missing = base("image_transform");
  rejected(missing, "MISSING_FIELD", "input_image");
  json bad = t;
  bad["input_image"] = "not base64!!";
  rejected(bad, "INVALID_IMAGE", "input_image");
  bad["input_image"] = encode_base64("GIF89a but not really");
  rejected(bad, "INVALID_IMAGE", "input_image");
  const std::string png = decode_base64(png_base64(320, 264));
  bad["input_image"] = encode_base64(png.substr(0, png.size() / 2));  // truncated PNG
  rejected(bad, "INVALID_IMAGE", "input_image");
  bad["input_image"] = "";
  rejected(bad, "INVALID_FIELD", "input_image");
  bad["input_image"] = 42;
  rejected(bad, "INVALID_FIELD", "input_image");
  bad["input_image"] = png_base64(64, 64);  // output would be 64x64 < 256
  rejected(bad, "INVALID_FIELD", "input_image");
  json small_limit = t;
  ParseOptions tight = options();  // the pixel limit is checked from the header, before decoding
  tight.limits.max_input_pixels = 1000;
  CHECK(rejection(small_limit, tight).code() == "INVALID_IMAGE");
  json strength = t;
  strength["strength"] = 1.5;
  rejected(strength, "INVALID_FIELD", "strength");
  strength["strength"] = 0;
  rejected(strength, "INVALID_FIELD", "strength");
  strength["strength"] = 0.01;  // 20 steps * 0.01 < 1 step
  rejected(strength, "INVALID_FIELD", "strength");
  strength["strength"] = "0.5";
  rejected(strength, "INVALID_FIELD", "strength");
  json resized = t;
  resized["input_image"] = png_base64(64, 64);
  resized["width"] = 256;
  resized["height"] = 256;
  CHECK(parse_job_request(resized, options()).submission.request.width == 256);

  json inpaint = base("image_inpaint");
  inpaint["init_image"] = png_base64(256, 256);
  inpaint["mask_image"] = png_base64(256, 256, 1);
  job = parse_job_request(inpaint, options());
  CHECK(job.submission.request.mode == GenerationMode::inpaint);
  CHECK(job.submission.request.mask_image.width == 256);
  json no_mask = inpaint;
  no_mask.erase("mask_image");
  rejected(no_mask, "MISSING_FIELD", "mask_image");
  json other_size = inpaint;
  other_size["mask_image"] = png_base64(256, 264, 1);
  rejected(other_size, "INVALID_FIELD", "mask_image");
  json bad_mask = inpaint;
  bad_mask["mask_image"] = "%%%";
  rejected(bad_mask, "INVALID_IMAGE", "mask_image");
  // inpaint_fill: where the masked area starts (default original).
  CHECK(job.submission.request.inpaint_fill == InpaintFill::original);
  json fill = inpaint;
  fill["inpaint_fill"] = "latent_noise";
  CHECK(parse_job_request(fill, options()).submission.request.inpaint_fill == InpaintFill::latent_noise);
  fill["inpaint_fill"] = "latent noise";
  rejected(fill, "INVALID_FIELD", "inpaint_fill");
  fill["inpaint_fill"] = 2;
  rejected(fill, "INVALID_FIELD", "inpaint_fill");
  json fill_img2img = t;
  fill_img2img["inpaint_fill"] = "fill";
  rejected(fill_img2img, "INVALID_FIELD", "inpaint_fill");
}
