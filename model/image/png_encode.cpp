// PNG writing with libpng: encode_png() of image_io.h. Tuned for generated images, where the PNG
// encoding is part of every request's time: zlib level 1 with Z_RLE matching (only runs of the
// previous byte), no filter on the first row and the "Up" filter (byte minus the byte above) on the
// others, and one IDAT chunk. The optional "parameters" text goes right after IHDR (png_text.h).
// docs/images.md ("Encoding") has the numbers.
#include <png.h>
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <csetjmp>
#include <cstdio>
#include <new>
#include <string>

#include "model/image/image_io.h"
#include "model/image/png_text.h"

namespace sdw {
namespace {

// The deflate settings (libpng's defaults otherwise: 32 KiB window, memLevel 8).
constexpr int kDeflateLevel = 1;
constexpr int kDeflateStrategy = Z_RLE;

// What the libpng callbacks share with encode_png (passed as libpng's io and error pointers).
struct Writer {
  std::string* out;
  char error[256];
};

void write_bytes(png_structp png, png_bytep data, size_t size) {
  auto* writer = static_cast<Writer*>(png_get_io_ptr(png));
  std::string& out = *writer->out;
  bool appended = true;
  try {
    // Room for the chunk trailers too (the CRC and IEND after the IDAT data): the file grows to its
    // final size in one step and keeps at most 64 spare bytes.
    if (out.capacity() - out.size() < size) out.reserve(out.size() + size + 64);
    out.append(reinterpret_cast<const char*>(data), size);
  } catch (const std::bad_alloc&) {
    appended = false;
  }
  if (!appended) png_error(png, "out of memory");  // outside the handler: png_error longjmps
}

void flush_nothing(png_structp) {}

[[noreturn]] void on_error(png_structp png, png_const_charp message) {
  auto* writer = static_cast<Writer*>(png_get_error_ptr(png));
  std::snprintf(writer->error, sizeof writer->error, "%s", message);
  png_longjmp(png, 1);
}

void ignore_warning(png_structp, png_const_charp) {}

int color_type(int channels) {
  switch (channels) {
    case 1: return PNG_COLOR_TYPE_GRAY;
    case 3: return PNG_COLOR_TYPE_RGB;
    default: return PNG_COLOR_TYPE_RGB_ALPHA;
  }
}

// The libpng calls. libpng reports errors by longjmp back to the setjmp below, so nothing in this
// function's frame needs a destructor and nothing set after setjmp is read after the jump; the
// output string and the text live in the caller. Returns false with writer.error set on failure.
bool write_png(Writer& writer, const Image& image, const PngText* text, size_t compressed_bound) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &writer, on_error, ignore_warning);
  if (png == nullptr) {
    std::snprintf(writer.error, sizeof writer.error, "cannot create the PNG writer");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    std::snprintf(writer.error, sizeof writer.error, "cannot create the PNG info");
    return false;
  }
  png_text entry{};
  if (text != nullptr) {
    entry.compression = text->latin1 ? PNG_TEXT_COMPRESSION_NONE : PNG_ITXT_COMPRESSION_NONE;
    entry.key = const_cast<char*>("parameters");
    entry.text = const_cast<char*>(text->text.c_str());
    entry.text_length = text->text.size();
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, &writer, write_bytes, flush_nothing);
  png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);  // the size was checked by the caller
  png_set_IHDR(png, info, png_uint_32(image.width), png_uint_32(image.height), 8, color_type(image.channels),
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, kDeflateLevel);
  png_set_compression_strategy(png, kDeflateStrategy);
  png_set_compression_mem_level(png, 8);
  png_set_compression_window_bits(png, 15);  // libpng still narrows it for images under 16 KiB
  // One buffer that holds all of the compressed data: a single IDAT chunk.
  png_set_compression_buffer_size(png, compressed_bound);
  // libpng would filter the first row "Up" too (against zeros: the same bytes, filter type 2). With
  // None and Up both allowed it picks None on ties, so the first row is unfiltered; from the second
  // row on only Up is allowed (libpng keeps the previous row since Up was allowed from the start).
  png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE | PNG_FILTER_UP);
  if (text != nullptr) png_set_text(png, info, &entry, 1);
  png_write_info(png, info);  // IHDR, then the text chunk
  const size_t row = size_t(image.width) * size_t(image.channels);
  const png_byte* pixels = image.pixels.data();
  png_write_row(png, pixels);
  if (image.height > 1) png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_UP);
  for (int y = 1; y < image.height; ++y) png_write_row(png, pixels + size_t(y) * row);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

std::string encode_png(const Image& image, const std::string& parameters) {
  check_image(image);
  const int64_t row = int64_t(image.width) * image.channels;
  const int64_t filtered = (row + 1) * image.height;  // one filter byte per row
  if (filtered > INT_MAX) {
    throw ImageError("image too large to encode as PNG: " + std::to_string(image.width) + "x" + std::to_string(image.height));
  }
  PngText text;
  if (!parameters.empty()) text = png_text_for("parameters", parameters);
  const size_t bound = std::min<size_t>(compressBound(uLong(filtered)) + 64, PNG_UINT_31_MAX);
  std::string out;
  Writer writer{&out, {}};
  if (!write_png(writer, image, parameters.empty() ? nullptr : &text, bound)) {
    throw ImageError(std::string("PNG encoding failed: ") + writer.error);
  }
  return out;
}

}  // namespace sdw
