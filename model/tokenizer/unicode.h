// Unicode helpers of the CLIP tokenizer: strict UTF-8 decoding/encoding, the character classes the
// CLIP pre-tokenizer regex uses, and the text normalisation of transformers' BasicTokenizer
// (ICU for the properties, NFC and lower-casing).
#pragma once

#include <string>
#include <string_view>

namespace sdw::tok {

// Decodes well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF); throws
// TokenizerError naming the byte offset of the first ill-formed sequence.
std::u32string decode_utf8(std::string_view bytes);
void append_utf8(std::string& out, char32_t cp);
std::string encode_utf8(std::u32string_view text);

bool is_letter(char32_t cp);      // \p{L}
bool is_number(char32_t cp);      // \p{N}
bool is_py_space(char32_t cp);    // Python str.isspace(): bidi WS/B/S or category Zs
bool is_cjk_ideograph(char32_t cp);  // the ranges of BasicTokenizer._is_chinese_char

// BasicTokenizer(do_lower_case=True, strip_accents=False, do_split_on_punc=False).tokenize(text),
// joined with ' ': drop U+0000, U+FFFD and category C* except \t\n\r; whitespace -> ' '; spaces
// around CJK ideographs; NFC; split on whitespace; lower-case each word (str.lower semantics).
std::u32string basic_normalize(std::u32string_view text);

}  // namespace sdw::tok
