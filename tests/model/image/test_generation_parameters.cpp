// The A1111 infotext (model/image/generation_parameters.cpp): its format, and the text surviving
// the PNG `parameters` chunk through a file.
#include <catch.hpp>

#include <string>
#include <utility>

#include "image_test_util.h"
#include "model/image/generation_parameters.h"
#include "test_util.h"

using sdw::Image;
using sdw::ImageError;
using namespace sdw::image_test;

TEST_CASE("a1111_parameters formats A1111's infotext", "[image][parameters]") {
  sdw::GenerationParameters p;
  p.prompt = "a photo of an astronaut riding a horse on mars";
  p.negative_prompt = "blurry, lowres";
  p.steps = 20;
  p.sampler = "Euler a";
  p.cfg_scale = 7.5;
  p.seed = 42;
  p.width = 512;
  p.height = 512;
  p.model = "v1-5";
  p.clip_skip = 2;
  p.denoising_strength = 0.75;
  CHECK(sdw::a1111_parameters(p) ==
        "a photo of an astronaut riding a horse on mars\n"
        "Negative prompt: blurry, lowres\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 512x512, Model: v1-5, "
        "Denoising strength: 0.75, Clip skip: 2");

  p.negative_prompt.clear();
  p.clip_skip.reset();
  p.denoising_strength.reset();
  p.cfg_scale = 7;
  p.seed = 4294967295ll;
  p.width = 640;
  p.height = 384;
  CHECK(sdw::a1111_parameters(p) ==
        "a photo of an astronaut riding a horse on mars\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 4294967295, Size: 640x384, Model: v1-5");

  p.clip_skip = 1;  // A1111 prints clip skip only when > 1
  p.model = "my, model: v2";
  p.prompt = "  cat  ";
  CHECK(sdw::a1111_parameters(p) ==
        "cat  \nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 4294967295, Size: 640x384, Model: \"my, model: v2\"");
  p.model.clear();
  p.prompt.clear();
  CHECK(sdw::a1111_parameters(p) == "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 4294967295, Size: 640x384");

  CHECK(sdw::format_number(7.0) == "7");
  CHECK(sdw::format_number(7.5) == "7.5");
  CHECK(sdw::format_number(0.1) == "0.1");
  CHECK(sdw::format_number(0.75) == "0.75");
  CHECK(sdw::format_number(0.1 + 0.2) == "0.30000000000000004");
  CHECK(sdw::format_number(-3.25) == "-3.25");
  CHECK(sdw::format_number(0.0) == "0");
}

TEST_CASE("infotext survives the PNG parameters chunk", "[image][parameters][png]") {
  sdw::GenerationParameters p;
  p.prompt = "\xe5\xaf\xbf\xe5\x8f\xb8, sushi";  // 寿司: goes to iTXt
  p.negative_prompt = "blurry";
  p.steps = 4;
  p.sampler = "DPM++ 2M Karras";
  p.cfg_scale = 1;
  p.seed = 7;
  p.width = 8;
  p.height = 8;
  std::string text = sdw::a1111_parameters(p);
  sdw::test::TempDir dir;
  Image in = random_image(8, 8, 3, 20);
  write_file(dir.file("out.png"), sdw::encode_png(in, text));
  std::string png = read_file(dir.file("out.png"));
  auto texts = sdw::png_text_chunks(png);
  REQUIRE(texts.size() == 1);
  CHECK(texts[0] == std::make_pair(std::string("parameters"), text));
  CHECK(sdw::load_image(dir.file("out.png")).pixels == in.pixels);
}
