// PNG text chunks: CRC-32, inserting a tEXt/iTXt chunk after IHDR and reading tEXt/iTXt chunks
// back with full validation of the chunk structure (lengths, CRCs, IEND).
#include "model/image/png_text.h"

#include <array>
#include <cstring>

#include "model/image/image_io.h"

namespace sdw {
namespace {

constexpr char kPngSignature[] = "\x89PNG\r\n\x1a\n";
constexpr size_t kSignatureSize = 8;
constexpr uint32_t kMaxChunkLength = 0x7fffffffu;  // PNG spec: lengths are at most 2^31-1

const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  return table;
}

uint32_t read_be32(const std::string& s, size_t pos) {
  return (uint32_t(uint8_t(s[pos])) << 24) | (uint32_t(uint8_t(s[pos + 1])) << 16) |
         (uint32_t(uint8_t(s[pos + 2])) << 8) | uint32_t(uint8_t(s[pos + 3]));
}

void append_be32(std::string& out, uint32_t v) {
  out.push_back(char((v >> 24) & 0xff));
  out.push_back(char((v >> 16) & 0xff));
  out.push_back(char((v >> 8) & 0xff));
  out.push_back(char(v & 0xff));
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

std::string chunk(const char type[4], const std::string& data) {
  if (data.size() > kMaxChunkLength) throw ImageError("PNG text chunk too large: " + std::to_string(data.size()) + " bytes");
  std::string out;
  out.reserve(data.size() + 12);
  append_be32(out, uint32_t(data.size()));
  out.append(type, 4);
  out += data;
  uint32_t crc = png_crc32(reinterpret_cast<const uint8_t*>(out.data() + 4), out.size() - 4);
  append_be32(out, crc);
  return out;
}

bool valid_keyword(const std::string& k) {
  if (k.empty() || k.size() > 79 || k.front() == ' ' || k.back() == ' ') return false;
  for (char c : k) {
    if (uint8_t(c) < 32 || uint8_t(c) > 126) return false;
  }
  return true;
}

std::string offset_text(size_t pos) { return "at offset " + std::to_string(pos); }

}  // namespace

uint32_t png_crc32(const uint8_t* data, size_t size, uint32_t crc) {
  const auto& table = crc_table();
  uint32_t c = crc ^ 0xffffffffu;
  for (size_t i = 0; i < size; ++i) c = table[(c ^ data[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

std::string insert_png_text_chunk(const std::string& png, const std::string& keyword,
                                  const std::string& utf8_text) {
  if (!valid_keyword(keyword)) throw ImageError("invalid PNG text keyword '" + keyword + "'");
  constexpr size_t kIhdrEnd = kSignatureSize + 12 + 13;
  if (png.size() < kIhdrEnd || png.compare(0, kSignatureSize, kPngSignature, kSignatureSize) != 0 ||
      read_be32(png, kSignatureSize) != 13 || png.compare(kSignatureSize + 4, 4, "IHDR") != 0) {
    throw ImageError("cannot add a text chunk: not a PNG starting with IHDR");
  }
  std::u32string cps;
  if (!utf8_code_points(utf8_text, cps)) throw ImageError("PNG text for '" + keyword + "' is not valid UTF-8");
  bool latin1 = true;
  for (char32_t cp : cps) {
    if (cp == 0) throw ImageError("PNG text for '" + keyword + "' contains a NUL character");
    if (cp > 0xff) latin1 = false;
  }
  std::string text_chunk;
  if (latin1) {
    std::string data = keyword;
    data.push_back('\0');
    for (char32_t cp : cps) data.push_back(char(uint8_t(cp)));
    text_chunk = chunk("tEXt", data);
  } else {
    // keyword NUL, compression flag 0, compression method 0, language tag "" NUL,
    // translated keyword "" NUL, UTF-8 text.
    std::string data = keyword;
    data.append(std::string("\0\0\0\0\0", 5));
    data += utf8_text;
    text_chunk = chunk("iTXt", data);
  }
  std::string out;
  out.reserve(png.size() + text_chunk.size());
  out.append(png, 0, kIhdrEnd);
  out += text_chunk;
  out.append(png, kIhdrEnd, std::string::npos);
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
    uint32_t crc = png_crc32(reinterpret_cast<const uint8_t*>(png.data() + pos + 4), size_t(length) + 4);
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
