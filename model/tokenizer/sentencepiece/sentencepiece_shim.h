// The C interface of sdw_sentencepiece, a small shared module around Debian's libsentencepiece
// that the T5 tokenizer dlopen()s with RTLD_LOCAL | RTLD_DEEPBIND (see t5_tokenizer.cpp for why:
// libsentencepiece carries its own protobuf-lite and exports its symbols, which clash with the
// libprotobuf that libtorch loads). Plain C types only, so nothing C++ crosses the boundary.
#pragma once

#include <stddef.h>

extern "C" {

// A loaded spiece.model, or null with the reason in `error` (NUL-terminated, truncated to `error_size`).
void* sdw_spm_load(const char* path, char* error, size_t error_size);
void sdw_spm_free(void* processor);
// Encodes `text` and calls `emit` once per piece with its id and its surface piece string
// (unknown characters keep their text, id = unk). Returns 0, or -1 with the reason in `error`.
typedef void (*sdw_spm_emit)(void* context, int id, const char* piece, size_t piece_size);
int sdw_spm_encode(void* processor, const char* text, size_t text_size, sdw_spm_emit emit, void* context, char* error,
                   size_t error_size);
// The id of a piece (the unknown id when the model has no such piece), the number of pieces, the unknown id.
int sdw_spm_piece_to_id(void* processor, const char* piece, size_t piece_size);
int sdw_spm_piece_size(void* processor);
int sdw_spm_unk_id(void* processor);

}
