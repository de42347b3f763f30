// SD3 with seeded random weights from a folder of diffusers configs (data/configs/sd3: SD3
// Medium's), for `sd-worker bench --arch sd3`, where weight values do not change the cost.
#pragma once

#include <memory>
#include <string>

#include "model/pipeline/sd_model.h"

namespace sdw {

// `<dir>/{transformer,vae,text_encoder,text_encoder_2,text_encoder_3}/config.json`,
// `<dir>/scheduler/scheduler_config.json` and `<dir>/tokenizer_3` (a SentencePiece model; T5's
// cost depends on the token count, always padded to max_sequence_length). Every part is built
// directly in options.dtype (T5-XXL in fp32 alone would be 19 GB) on the CPU, filled by
// init_demo_weights, then moved to options.device; T5 only when options.load_t5. Family "sd3".
std::shared_ptr<SdModel> make_random_sd3_model(const std::string& dir, const ModelLoadOptions& options);

}  // namespace sdw
