// The rbee job fields `deepcache` ({"interval": N, "branch": B}) and `tome` ({"ratio": R}):
// DeepCache and token merging for this job (model/pipeline/speed_options.h), each checked with a
// 400 naming it ("deepcache.interval", ...); absent: the worker's --deepcache / --tome.
#pragma once

#include "model/pipeline/request.h"
#include "net/http/validation.h"

namespace sdw::net {

// Sets r.deepcache and r.tome from the fields when present.
void parse_speed_fields(const FieldReader& fields, GenerationRequest& r);

}  // namespace sdw::net
