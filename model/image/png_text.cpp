// PNG text chunks: choosing tEXt or iTXt for a UTF-8 text (png_text.h) and reading tEXt/iTXt
// chunks back with full validation of the chunk structure (lengths, CRCs, IEND); the CRC-32 is
// zlib's.
#include "model/image/png_text.h"

#include <zlib.h>

#include "model/image/image_io.h"

namespace sdw {
namespace {

constexpr char kPngSignature[] = "\x89PNG\r\n\x1a\n";
constexpr size_t kSignatureSize = 8;
constexpr uint32_t kMaxChunkLength = 0x7fffffffu;  // PNG spec: lengths are at most 2^31-1

uint32_t read_be32(const std::string& s, size_t pos) {
  return (uint32_t(uint8_t(s[pos])) << 24) | (uint32_t(uint8_t(s[pos + 1])) << 16) |
         (uint32_t(uint8_t(s[pos + 2])) << 8) | uint32_t(uint8_t(s[pos + 3]));
}

// Decodes UTF-8 strictly (no overlong forms, surrogates or code points above U+10FFFF).
// Returns false on invalid input.
bool utf8_code_points(const std::string& s, std::u32string& out) {
  out.clear();
  size_t i = 0;
  while (i < s.size()) {
    uint8_t b = uint8_t(s[i]);
    uint32_t cp;
    int extra;
    if (b < 0x80) {
      cp = b;
      extra = 0;
    } else if (b >= 0xc2 && b <= 0xdf) {
      cp = b & 0x1f;
      extra = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
      cp = b & 0x0f;
      extra = 2;
    } else if (b >= 0xf0 && b <= 0xf4) {
      cp = b & 0x07;
      extra = 3;
    } else {
      return false;
    }
    if (s.size() - i - 1 < size_t(extra)) return false;
    for (int k = 1; k <= extra; ++k) {
      uint8_t c = uint8_t(s[i + k]);
      if ((c & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3f);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    out.push_back(cp);
    i += size_t(extra) + 1;
  }
  return true;
}

std::string latin1_to_utf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    uint8_t b = uint8_t(ch);
    if (b < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(char(0xc0 | (b >> 6)));
      out.push_back(char(0x80 | (b & 0x3f)));
    }
  }
  return out;
}

std::string offset_text(size_t pos) { return "at offset " + std::to_string(pos); }

}  // namespace

PngText png_text_for(const std::string& keyword, const std::string& utf8_text) {
  std::u32string cps;
  if (!utf8_code_points(utf8_text, cps)) throw ImageError("PNG text for '" + keyword + "' is not valid UTF-8");
  PngText out;
  for (char32_t cp : cps) {
    if (cp == 0) throw ImageError("PNG text for '" + keyword + "' contains a NUL character");
    if (cp > 0xff) out.latin1 = false;
  }
  if (out.latin1) {
    out.text.reserve(cps.size());
    for (char32_t cp : cps) out.text.push_back(char(uint8_t(cp)));
  } else {
    out.text = utf8_text;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> png_text_chunks(const std::string& png) {
  if (png.size() < kSignatureSize || png.compare(0, kSignatureSize, kPngSignature, kSignatureSize) != 0) {
    throw ImageError("not a PNG (bad signature)");
  }
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = kSignatureSize;
  bool first = true;
  while (true) {
    if (png.size() - pos < 12) throw ImageError("truncated PNG: incomplete chunk " + offset_text(pos) + " (no IEND)");
    uint32_t length = read_be32(png, pos);
    std::string type = png.substr(pos + 4, 4);
    for (char c : type) {
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) throw ImageError("invalid PNG chunk type " + offset_text(pos));
    }
    if (length > kMaxChunkLength) throw ImageError("PNG chunk " + type + " " + offset_text(pos) + " has invalid length " + std::to_string(length));
    if (png.size() - pos - 12 < length) throw ImageError("truncated PNG: chunk " + type + " " + offset_text(pos) + " claims " + std::to_string(length) + " bytes");
    uint32_t stored_crc = read_be32(png, pos + 8 + length);
    const uint32_t crc = uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(png.data() + pos + 4), uInt(length) + 4));
    if (crc != stored_crc) throw ImageError("PNG chunk " + type + " " + offset_text(pos) + " has a bad CRC");
    if (first && type != "IHDR") throw ImageError("PNG does not start with IHDR");
    first = false;
    const bool is_text = type == "tEXt" || type == "iTXt";
    const std::string data = is_text ? png.substr(pos + 8, length) : std::string();
    if (type == "tEXt") {
      size_t nul = data.find('\0');
      if (nul == std::string::npos || nul == 0 || nul > 79) throw ImageError("PNG tEXt chunk " + offset_text(pos) + " has no valid keyword");
      out.emplace_back(latin1_to_utf8(data.substr(0, nul)), latin1_to_utf8(data.substr(nul + 1)));
    } else if (type == "iTXt") {
      size_t nul = data.find('\0');
      if (nul == std::string::npos || nul == 0 || nul > 79 || data.size() - nul < 3) {
        throw ImageError("PNG iTXt chunk " + offset_text(pos) + " has no valid keyword");
      }
      uint8_t compressed = uint8_t(data[nul + 1]);
      if (compressed > 1) throw ImageError("PNG iTXt chunk " + offset_text(pos) + " has an invalid compression flag");
      size_t lang_end = data.find('\0', nul + 3);
      size_t translated_end = lang_end == std::string::npos ? lang_end : data.find('\0', lang_end + 1);
      if (translated_end == std::string::npos) throw ImageError("PNG iTXt chunk " + offset_text(pos) + " is truncated");
      if (compressed == 0) {
        std::string text = data.substr(translated_end + 1);
        std::u32string cps;
        if (!utf8_code_points(text, cps)) throw ImageError("PNG iTXt chunk " + offset_text(pos) + " is not valid UTF-8");
        out.emplace_back(latin1_to_utf8(data.substr(0, nul)), std::move(text));
      }
    }
    pos += 12 + size_t(length);
    if (type == "IEND") break;
  }
  return out;
}

}  // namespace sdw
