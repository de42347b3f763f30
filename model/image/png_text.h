// PNG text chunks (internal to sdw_image): CRC-32 and insertion of a tEXt/iTXt chunk after IHDR.
// Reading them back is png_text_chunks() in image_io.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sdw {

// CRC-32 as PNG and zlib define it (polynomial 0xEDB88320, reflected, initial and final XOR
// 0xFFFFFFFF). `crc` continues a previous result (0 to start).
uint32_t png_crc32(const uint8_t* data, size_t size, uint32_t crc = 0);

// Returns `png` with a text chunk for `keyword` (1-79 printable Latin-1 ASCII characters) inserted
// right after IHDR: tEXt holding `utf8_text` as Latin-1 when every character fits, otherwise an
// uncompressed iTXt (empty language tag and translated keyword) holding the UTF-8 as is.
// ImageError when `png` does not start with a signature and an IHDR chunk, the text is not valid
// UTF-8 or contains NUL, or the chunk would exceed PNG's 2^31-1 byte limit.
std::string insert_png_text_chunk(const std::string& png, const std::string& keyword,
                                  const std::string& utf8_text);

}  // namespace sdw
