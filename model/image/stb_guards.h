// Checks run before bytes reach stb_image 2.27 (Debian's libstb 0.0~git20220908), covering its
// known weaknesses on hostile input (internal to sdw_image):
// - JPEG: DHT tables with more than 256 codes write out of bounds (nothings/stb#1289, fixed
//   upstream in 2.28); progressive JPEGs with very many scans cost CPU per scan x whole image; a
//   scan that uses a Huffman or quantization table no DHT/DQT defined is decoded with stb's
//   uninitialised memory; and pixel buffers are not initialised either, so a component that no
//   scan decodes (progressive: no first DC scan), or the rest of a scan that stops at a restart
//   interval without its RSTn marker, comes out as whatever the heap held (found with tests/fuzz).
// - BMP: a palette image's palette is a stack array stb does not initialise, read only as far as
//   the header's data offset allows (not at all when that count comes out negative): indices past
//   it gave whatever the stack held (found with tests/fuzz).
// - PNG: IDAT data is inflated without an output bound (a 300 KB file can take 300 MB), chunk
//   lengths are trusted for allocation (2 GB for a 100-byte file), the message for unknown
//   critical chunks is written to a shared static buffer (a data race between threads), and the
//   inflater takes the invalid distance codes 30 and 31 for a distance of 0, copying output bytes
//   it never wrote (uninitialised memory in the pixels; found with tests/fuzz).
#pragma once

#include <cstdint>
#include <string>

namespace sdw {

// Most scans accepted in one JPEG (progressive encoders write about 10).
constexpr int kMaxJpegScans = 100;

// Walks the JPEG marker structure the way stb's decoder does. Throws ImageError for a DHT table
// that declares more than 256 codes, for more than kMaxJpegScans scans, for a scan that uses a
// Huffman table no earlier DHT defined (abbreviated files, e.g. Motion-JPEG frames, which rely on
// default tables stb does not have), for a component dequantized with a table no DQT defined
// (baseline: before its scan; progressive: before EOI), for a scan with a restart interval whose
// data holds fewer RSTn markers than its intervals need, or for an image that ends (EOI) with a
// component no scan decoded (progressive: no first DC scan); returns normally for anything else
// (including data stb itself will reject).
void check_jpeg_before_decode(const std::string& jpeg);

// Reads a BMP's header and palette size as stb does and, for palette images (1, 4 or 8 bits),
// every pixel index stb will look up: throws ImageError when the palette size stb computes from
// the data offset is negative or an index lies past the palette; returns normally for anything
// else (including files stb will reject). Stops at the end of the data (stb reads zeros there).
// Implemented in stb_bmp_guard.cpp.
void check_bmp_before_decode(const std::string& bmp);

// Walks the PNG chunks (the signature is already checked): IHDR first (after CgBI, if any) and
// within max_pixels, every chunk before IEND must fit in the data, no critical chunks other than
// IHDR, PLTE, IDAT, IEND and CgBI, and the concatenated IDAT data must be a complete deflate
// stream (checked with zlib, which refuses what stb's inflater misreads; the zlib header and
// Adler-32 are left to stb, which ignores the latter) that inflates to no more than the size IHDR
// implies plus 25% and 64 KiB. Throws ImageError otherwise.
void check_png_before_decode(const std::string& png, int64_t max_pixels);

}  // namespace sdw
