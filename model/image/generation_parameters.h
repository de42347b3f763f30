// The A1111 "parameters" text (infotext) that describes how an image was generated; it goes into
// the PNG "parameters" chunk (encode_png) where A1111, ComfyUI and image boards read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sdw {

struct GenerationParameters {
  std::string prompt;
  std::string negative_prompt;  // empty: no "Negative prompt:" line
  int steps = 0;
  std::string sampler;  // display name, e.g. "Euler a", "DPM++ 2M Karras"
  std::string schedule_type;  // A1111's "Schedule type" after the sampler (e.g. "Simple"); empty: none
  double cfg_scale = 0;
  int64_t seed = 0;
  int width = 0;
  int height = 0;
  std::string model;                          // empty: no "Model:" field
  std::optional<int> clip_skip;               // printed only when > 1, as A1111 does
  std::optional<double> denoising_strength;   // img2img / inpainting
  std::string lora_hashes;  // A1111's "Lora hashes" value ("name: 0123456789ab, ..."); empty: none
  // Hires fix: A1111's "Hires upscale" / "Hires resize", "Hires steps", "Hires upscaler", "Hires
  // prompt", "Hires negative prompt" as (name, value), in that order, before the Lora hashes.
  std::vector<std::pair<std::string, std::string>> hires;
  // One per ControlNet, as sd-webui-controlnet writes its units ("ControlNet 0: ..."); see
  // a1111_controlnet_unit.
  std::vector<std::string> controlnets;
};

// sd-webui-controlnet's unit text, reduced to what this worker has:
//   Module: none, Model: NAME, Weight: 1, Guidance Start: 0, Guidance End: 1
// with ", Control Mode: ControlNet is more important" added in guess mode.
std::string a1111_controlnet_unit(const std::string& module, const std::string& model, double weight, double start,
                                  double end, bool guess_mode);

// Formats A1111's infotext (modules/processing.py create_infotext):
//   <prompt>
//   Negative prompt: <negative prompt>
//   Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 512x512, Model: v1-5,
//   Denoising strength: 0.75, Clip skip: 2, Lora hashes: "add_detail: 0123456789ab"
// (the fields on one line, in A1111's order). Numbers are printed minimally (7.5, 7, 0.75);
// string values that contain ',', ':' or a newline are JSON-quoted as A1111's quote() does; the
// whole text is stripped of leading/trailing whitespace as A1111 does.
std::string a1111_parameters(const GenerationParameters& params);

// Shortest decimal text that reads back as the same double, without a trailing ".0" (7 -> "7",
// 7.5 -> "7.5", 0.1 -> "0.1"); "nan"/"inf"/"-inf" for non-finite values.
std::string format_number(double value);

}  // namespace sdw
