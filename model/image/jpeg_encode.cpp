// JPEG writing with libjpeg-turbo: encode_jpeg() of image_io.h. Baseline, YCbCr, JFIF, the
// standard Huffman tables and the Annex K quantisation tables scaled by quality (1-100) as libjpeg
// and stb_image_write both scale them; chroma 4:2:0 at quality <= 90 and 4:4:4 above, as
// stb_image_write (the previous encoder) chose. Gray is written as three equal channels, alpha is
// dropped.
#include <csetjmp>
#include <cstddef>
#include <cstdio>  // before jpeglib.h, which uses size_t and FILE without including them
#include <cstdlib>
#include <string>
#include <vector>

#include <jpeglib.h>

#include "model/image/image_io.h"

namespace sdw {
namespace {

// libjpeg's error manager with a way back: error_exit formats the message and longjmps.
struct ErrorManager {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

void ignore_message(j_common_ptr) {}

// Everything libjpeg touches, owned by encode_jpeg (not by the frame that calls setjmp).
struct Compression {
  jpeg_compress_struct cinfo{};
  ErrorManager errors{};
  unsigned char* buffer = nullptr;  // malloc'ed by jpeg_mem_dest
  unsigned long size = 0;
  std::vector<JSAMPLE> rgb_row;  // gray input expanded to RGB, one row
};

// The libjpeg calls; errors longjmp back to the setjmp here (no destructors in this frame).
bool write_jpeg(Compression& c, const Image& image, int quality) {
  c.cinfo.err = jpeg_std_error(&c.errors.mgr);
  c.errors.mgr.error_exit = on_error;
  c.errors.mgr.output_message = ignore_message;
  if (setjmp(c.errors.jump)) {
    jpeg_destroy_compress(&c.cinfo);
    return false;
  }
  jpeg_create_compress(&c.cinfo);
  jpeg_mem_dest(&c.cinfo, &c.buffer, &c.size);
  c.cinfo.image_width = JDIMENSION(image.width);
  c.cinfo.image_height = JDIMENSION(image.height);
  c.cinfo.input_components = image.channels == 4 ? 4 : 3;
  c.cinfo.in_color_space = image.channels == 4 ? JCS_EXT_RGBX : JCS_RGB;  // RGBX: the 4th byte is skipped
  jpeg_set_defaults(&c.cinfo);  // YCbCr, 4:2:0, JFIF header, standard Huffman tables, integer DCT
  jpeg_set_quality(&c.cinfo, quality, TRUE /* baseline: table entries at most 255 */);
  if (quality > 90) c.cinfo.comp_info[0].h_samp_factor = c.cinfo.comp_info[0].v_samp_factor = 1;  // 4:4:4
  jpeg_start_compress(&c.cinfo, TRUE);
  const size_t row = size_t(image.width) * size_t(image.channels);
  while (c.cinfo.next_scanline < c.cinfo.image_height) {
    const JSAMPLE* src = image.pixels.data() + size_t(c.cinfo.next_scanline) * row;
    JSAMPROW line = const_cast<JSAMPROW>(src);
    if (image.channels == 1) {
      for (size_t x = 0; x < row; ++x) c.rgb_row[3 * x] = c.rgb_row[3 * x + 1] = c.rgb_row[3 * x + 2] = src[x];
      line = c.rgb_row.data();
    }
    jpeg_write_scanlines(&c.cinfo, &line, 1);
  }
  jpeg_finish_compress(&c.cinfo);
  jpeg_destroy_compress(&c.cinfo);
  return true;
}

}  // namespace

std::string encode_jpeg(const Image& image, int quality) {
  check_image(image);
  if (quality < 1 || quality > 100) throw ImageError("JPEG quality must be 1-100, got " + std::to_string(quality));
  if (image.width > 65535 || image.height > 65535) {
    throw ImageError("image too large for JPEG: " + std::to_string(image.width) + "x" + std::to_string(image.height));
  }
  Compression c;
  if (image.channels == 1) c.rgb_row.resize(size_t(image.width) * 3);
  const bool ok = write_jpeg(c, image, quality);
  std::string out;
  if (ok) out.assign(reinterpret_cast<const char*>(c.buffer), c.size);
  std::free(c.buffer);
  if (!ok) throw ImageError(std::string("JPEG encoding failed: ") + c.errors.message);
  return out;
}

}  // namespace sdw
