// Unicode helpers of the CLIP tokenizer (UTF-8 codec, ICU character classes, BasicTokenizer
// normalisation). See unicode.h.
#include "model/tokenizer/unicode.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include "model/tokenizer/clip_tokenizer.h"

namespace sdw::tok {

namespace {

bool is_cont(unsigned char b, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
  return b >= lo && b <= hi;
}

[[noreturn]] void bad_utf8(size_t offset) {
  throw TokenizerError("invalid UTF-8 in tokenizer input at byte offset " + std::to_string(offset));
}

// C* except \t \n \r (BasicTokenizer._is_control), plus U+0000 and U+FFFD (_clean_text).
bool is_dropped(char32_t cp) {
  if (cp == 0 || cp == 0xFFFD) return true;
  if (cp == U'\t' || cp == U'\n' || cp == U'\r') return false;
  return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_C_MASK) != 0;
}

// BasicTokenizer._is_whitespace: ' ', \t, \n, \r or category Zs.
bool is_basic_whitespace(char32_t cp) {
  if (cp == U' ' || cp == U'\t' || cp == U'\n' || cp == U'\r') return true;
  return u_charType(static_cast<UChar32>(cp)) == U_SPACE_SEPARATOR;
}

void append_utf32(std::u32string& out, const icu::UnicodeString& s, int32_t start, int32_t limit) {
  for (int32_t i = start; i < limit;) {
    UChar32 c = s.char32At(i);
    out.push_back(static_cast<char32_t>(c));
    i += U16_LENGTH(c);
  }
}

}  // namespace

std::u32string decode_utf8(std::string_view bytes) {
  std::u32string out;
  out.reserve(bytes.size());
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char b0 = s[i];
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    }
    size_t len;
    char32_t cp;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the first continuation byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2, cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3, cp = b0 & 0x0F;
      if (b0 == 0xE0) lo = 0xA0;  // overlong
      if (b0 == 0xED) hi = 0x9F;  // surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4, cp = b0 & 0x07;
      if (b0 == 0xF0) lo = 0x90;  // overlong
      if (b0 == 0xF4) hi = 0x8F;  // > U+10FFFF
    } else {
      bad_utf8(i);
    }
    if (n - i < len || !is_cont(s[i + 1], lo, hi)) bad_utf8(i);
    for (size_t k = 1; k < len; ++k) {
      if (!is_cont(s[i + k])) bad_utf8(i);
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) append_utf8(out, cp);
  return out;
}

bool is_letter(char32_t cp) {
  return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_L_MASK) != 0;
}

bool is_number(char32_t cp) {
  return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_N_MASK) != 0;
}

bool is_py_space(char32_t cp) {
  if (cp == U' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F)) return true;
  if (cp < 0x80) return false;
  const auto c = static_cast<UChar32>(cp);
  if (u_charType(c) == U_SPACE_SEPARATOR) return true;
  const UCharDirection d = u_charDirection(c);
  return d == U_WHITE_SPACE_NEUTRAL || d == U_BLOCK_SEPARATOR || d == U_SEGMENT_SEPARATOR;
}

bool is_cjk_ideograph(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

std::u32string basic_normalize(std::u32string_view text) {
  // _clean_text + _tokenize_chinese_chars.
  std::u32string cleaned;
  cleaned.reserve(text.size() + 8);
  bool ascii = true;
  for (char32_t cp : text) {
    if (is_dropped(cp)) continue;
    if (is_basic_whitespace(cp)) {
      cleaned.push_back(U' ');
    } else if (is_cjk_ideograph(cp)) {
      cleaned.push_back(U' ');
      cleaned.push_back(cp);
      cleaned.push_back(U' ');
      ascii = false;
    } else {
      cleaned.push_back(cp);
      ascii = ascii && cp < 0x80;
    }
  }

  std::u32string out;
  out.reserve(cleaned.size());
  if (ascii) {
    // NFC and full lower-casing are the identity / ASCII tolower on ASCII text.
    for (size_t i = 0; i < cleaned.size();) {
      while (i < cleaned.size() && is_py_space(cleaned[i])) ++i;
      if (i == cleaned.size()) break;
      if (!out.empty()) out.push_back(U' ');
      for (; i < cleaned.size() && !is_py_space(cleaned[i]); ++i) {
        char32_t c = cleaned[i];
        out.push_back(c >= U'A' && c <= U'Z' ? c + 32 : c);
      }
    }
    return out;
  }

  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(err);
  if (U_FAILURE(err)) throw TokenizerError(std::string("ICU NFC normaliser unavailable: ") + u_errorName(err));
  const icu::UnicodeString src = icu::UnicodeString::fromUTF32(
      reinterpret_cast<const UChar32*>(cleaned.data()), static_cast<int32_t>(cleaned.size()));
  const icu::UnicodeString norm = nfc->normalize(src, err);
  if (U_FAILURE(err)) throw TokenizerError(std::string("ICU NFC normalisation failed: ") + u_errorName(err));

  // whitespace_tokenize (str.split()) then str.lower() per word (full mapping, Final_Sigma).
  const icu::Locale& root = icu::Locale::getRoot();
  const int32_t n = norm.length();
  int32_t i = 0;
  while (i < n) {
    while (i < n && is_py_space(static_cast<char32_t>(norm.char32At(i)))) i += U16_LENGTH(norm.char32At(i));
    if (i >= n) break;
    const int32_t start = i;
    while (i < n && !is_py_space(static_cast<char32_t>(norm.char32At(i)))) i += U16_LENGTH(norm.char32At(i));
    icu::UnicodeString word(norm, start, i - start);
    word.toLower(root);
    if (word.isBogus()) throw TokenizerError("ICU lower-casing failed");
    if (!out.empty()) out.push_back(U' ');
    append_utf32(out, word, 0, word.length());
  }
  return out;
}

}  // namespace sdw::tok
