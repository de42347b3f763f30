// PNG text chunks (internal to sdw_image): how a UTF-8 text is stored, as PIL's PngInfo.add_text
// stores it (tEXt in Latin-1 when every character fits, otherwise an uncompressed iTXt), for the
// libpng writer in png_encode.cpp. Reading chunks back is png_text_chunks() in image_io.h.
#pragma once

#include <string>

namespace sdw {

// A text as it goes into a PNG chunk.
struct PngText {
  bool latin1 = true;  // true: tEXt, `text` in ISO 8859-1; false: uncompressed iTXt, `text` in UTF-8
  std::string text;    // never contains NUL
};

// Chooses the chunk for `utf8_text`: tEXt holding the text as Latin-1 when every character is
// U+0001..U+00FF, otherwise an uncompressed iTXt holding the UTF-8 as is. ImageError (naming
// `keyword`) when the text is not valid UTF-8 (overlong forms, surrogates and code points above
// U+10FFFF are invalid) or contains a NUL character.
PngText png_text_for(const std::string& keyword, const std::string& utf8_text);

}  // namespace sdw
