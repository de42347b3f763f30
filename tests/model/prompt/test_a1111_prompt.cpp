// model/prompt/a1111_prompt: AUTOMATIC1111's attention syntax and 75-token chunks against worked
// examples from A1111's own code (modules/prompt_parser.py parse_prompt_attention, its docstring
// examples first, and modules/sd_hijack_clip.py tokenize_line run on synthetic token ids); the
// weights are Python's doubles (its repr), compared exactly.
#include <catch.hpp>

#include "model/prompt/a1111_prompt.h"

using namespace sdw;

namespace {

using Pieces = std::vector<std::pair<std::string, double>>;

Pieces parsed(const std::string& prompt) {
  Pieces out;
  for (const auto& p : parse_prompt_attention(prompt)) out.emplace_back(p.text, p.weight);
  return out;
}

std::vector<int> range(int from, int count) {
  std::vector<int> out;
  for (int i = 0; i < count; ++i) out.push_back(from + i);
  return out;
}

}  // namespace

TEST_CASE("attention weights as A1111's docstring examples", "[prompt]") {
  CHECK(parsed("normal text") == Pieces{{"normal text", 1.0}});
  CHECK(parsed("an (important) word") == Pieces{{"an ", 1.0}, {"important", 1.1}, {" word", 1.0}});
  CHECK(parsed("(unbalanced") == Pieces{{"unbalanced", 1.1}});
  CHECK(parsed("\\(literal\\]") == Pieces{{"(literal]", 1.0}});
  CHECK(parsed("(unnecessary)(parens)") == Pieces{{"unnecessaryparens", 1.1}});
  CHECK(parsed("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).") ==
        Pieces{{"a ", 1.0}, {"house", 1.5730000000000004}, {" ", 1.1}, {"on", 1.0}, {" a ", 1.1},
               {"hill", 0.55}, {", sun, ", 1.1}, {"sky", 1.4641000000000006}, {".", 1.1}});
}

TEST_CASE("squares, explicit weights, colons, escapes, BREAK", "[prompt]") {
  CHECK(parsed("[[faded]] (x:1.5) :plain: c\\\\d") ==
        Pieces{{"faded", 0.8264462809917354}, {" ", 1.0}, {"x", 1.5}, {" :plain: c\\d", 1.0}});
  CHECK(parsed("(a:-0.5) [b") == Pieces{{"a", -0.5}, {" ", 1.0}, {"b", 0.9090909090909091}});
  CHECK(parsed("((x:1.2):1.5)") == Pieces{{"x", 1.7999999999999998}});
  CHECK(parsed("") == Pieces{{"", 1.0}});
  const auto b = parse_prompt_attention("a BREAK b");
  REQUIRE(b.size() == 3);
  CHECK(b[1].is_break());
  CHECK(parsed("a BREAK b") == Pieces{{"a", 1.0}, {"BREAK", -1}, {"b", 1.0}});
  // Inside brackets BREAK is weighted like its neighbours and no longer a break (as in A1111).
  const auto inside = parse_prompt_attention("(red BREAK blue:1.2) end");
  CHECK(parsed("(red BREAK blue:1.2) end") == Pieces{{"red", 1.2}, {"BREAK", -1.2}, {"blue", 1.2}, {" end", 1.0}});
  CHECK_FALSE(inside[1].is_break());
  CHECK_THROWS_AS(parse_prompt_attention("a (b:1.2.3) c"), std::invalid_argument);  // A1111: ValueError
}

TEST_CASE("75-token chunks: padding, comma backtrack, BREAK, weights", "[prompt]") {
  const ChunkIds ids;
  // 80 tokens: 75 in the first chunk, 5 in the second, each BOS ... EOS padded to 77.
  auto c = prompt_chunks({{"a", 1.0}}, {range(1000, 80)});
  REQUIRE(c.size() == 2);
  CHECK(c[0].tokens.size() == 77);
  CHECK(std::vector<int>(c[0].tokens.begin(), c[0].tokens.begin() + 3) == std::vector<int>{49406, 1000, 1001});
  CHECK(std::vector<int>(c[0].tokens.end() - 3, c[0].tokens.end()) == std::vector<int>{1073, 1074, 49407});
  CHECK(std::vector<int>(c[1].tokens.begin(), c[1].tokens.begin() + 7) ==
        std::vector<int>{49406, 1075, 1076, 1077, 1078, 1079, 49407});
  CHECK(c[1].tokens.size() == 77);
  CHECK(c[1].tokens.back() == 49407);

  // A comma 15 tokens before the end of a full chunk: the words after it start the next chunk.
  std::vector<int> t = range(1000, 80);
  t[60] = ids.comma;
  c = prompt_chunks({{"a", 1.0}}, {t});
  REQUIRE(c.size() == 2);
  CHECK(std::vector<int>(c[0].tokens.begin() + 60, c[0].tokens.begin() + 63) == std::vector<int>{1059, 267, 49407});
  CHECK(std::vector<int>(c[1].tokens.begin(), c[1].tokens.begin() + 5) == std::vector<int>{49406, 1061, 1062, 1063, 1064});
  int words = 0;
  for (int x : c[1].tokens) words += x < 49406;
  CHECK(words == 19);
  // 25 tokens back is too far (comma_padding_backtrack 20): a plain split.
  t = range(1000, 80);
  t[50] = ids.comma;
  c = prompt_chunks({{"a", 1.0}}, {t});
  CHECK(std::vector<int>(c[0].tokens.begin() + 74, c[0].tokens.end()) == std::vector<int>{1073, 1074, 49407});
  CHECK(std::vector<int>(c[1].tokens.begin(), c[1].tokens.begin() + 3) == std::vector<int>{49406, 1075, 1076});

  // BREAK closes the chunk; multipliers follow the pieces' weights, 1 for BOS/EOS/padding.
  c = prompt_chunks({{"a", 1.1}, {"BREAK", -1}, {"b", 0.9}}, {{5, 6}, {}, {7}});
  REQUIRE(c.size() == 2);
  CHECK(std::vector<int>(c[0].tokens.begin(), c[0].tokens.begin() + 4) == std::vector<int>{49406, 5, 6, 49407});
  CHECK(std::vector<double>(c[0].multipliers.begin(), c[0].multipliers.begin() + 4) == std::vector<double>{1.0, 1.1, 1.1, 1.0});
  CHECK(std::vector<double>(c[1].multipliers.begin(), c[1].multipliers.begin() + 3) == std::vector<double>{1.0, 0.9, 1.0});

  // Empty prompt: one chunk of BOS + EOS padding; exactly 75 tokens: one chunk.
  c = prompt_chunks({{"", 1.0}}, {{}});
  REQUIRE(c.size() == 1);
  CHECK(c[0].tokens.size() == 77);
  CHECK(prompt_chunks({{"a", 1.0}}, {range(1000, 75)}).size() == 1);
  CHECK_THROWS_AS(prompt_chunks({{"a", 1.0}}, {}), std::invalid_argument);
}
