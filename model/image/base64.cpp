// Base64 (RFC 4648): encoding with the standard padded alphabet; lenient decoding that accepts a
// data: URL prefix, whitespace, missing padding and the URL-safe alphabet, and names the position
// of the first invalid character.
#include <cctype>
#include <cstdio>
#include <cstdint>
#include <string>

#include "model/image/image_io.h"

namespace sdw {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Value of a base64 digit (both alphabets), or -1.
int digit_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string describe_char(char c) {
  uint8_t b = uint8_t(c);
  char buf[8];
  if (b >= 0x20 && b < 0x7f) {
    snprintf(buf, sizeof buf, "'%c'", c);
  } else {
    snprintf(buf, sizeof buf, "0x%02x", b);
  }
  return buf;
}

bool starts_with_ci(const std::string& s, size_t pos, const char* prefix) {
  for (size_t i = 0; prefix[i]; ++i) {
    if (pos + i >= s.size() || std::tolower(uint8_t(s[pos + i])) != prefix[i]) return false;
  }
  return true;
}

}  // namespace

std::string encode_base64(const std::string& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) | uint8_t(bytes[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (rest == 2) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::string decode_base64(const std::string& text) {
  size_t pos = 0;
  while (pos < text.size() && is_space(text[pos])) ++pos;
  // data:[<mime>][;param...];base64,<payload>
  if (starts_with_ci(text, pos, "data:")) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) throw ImageError("data URL without ',' before the payload");
    std::string meta = text.substr(pos, comma - pos);
    const std::string suffix = ";base64";
    bool is_base64 = meta.size() >= suffix.size() && starts_with_ci(meta, meta.size() - suffix.size(), ";base64");
    if (!is_base64) throw ImageError("data URL is not base64-encoded (no ';base64' before ',')");
    pos = comma + 1;
  }

  std::string out;
  out.reserve((text.size() - pos) / 4 * 3 + 3);
  uint32_t acc = 0;
  int digits = 0;     // digits in the current group of 4
  int padding = 0;    // '=' seen
  size_t last_digit_pos = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    char c = text[i];
    if (is_space(c)) continue;
    if (c == '=') {
      // Padding may only complete a group that has 2 or 3 digits, and at most to 4.
      if (digits + padding < 2 || digits + padding >= 4) {
        throw ImageError("invalid base64: unexpected '=' at position " + std::to_string(i));
      }
      ++padding;
      continue;
    }
    int v = digit_value(c);
    if (v < 0) throw ImageError("invalid base64 character " + describe_char(c) + " at position " + std::to_string(i));
    if (padding > 0) throw ImageError("invalid base64: data after padding at position " + std::to_string(i));
    acc = (acc << 6) | uint32_t(v);
    last_digit_pos = i;
    if (++digits == 4) {
      out.push_back(char((acc >> 16) & 0xff));
      out.push_back(char((acc >> 8) & 0xff));
      out.push_back(char(acc & 0xff));
      acc = 0;
      digits = 0;
    }
  }
  if (digits == 1) {
    throw ImageError("invalid base64: truncated input (a single digit at position " + std::to_string(last_digit_pos) + " ends it)");
  }
  if (digits == 2) {
    out.push_back(char((acc >> 4) & 0xff));
  } else if (digits == 3) {
    out.push_back(char((acc >> 10) & 0xff));
    out.push_back(char((acc >> 2) & 0xff));
  }
  return out;
}

}  // namespace sdw
