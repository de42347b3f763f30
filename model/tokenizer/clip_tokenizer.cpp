#include "model/tokenizer/clip_tokenizer.h"
