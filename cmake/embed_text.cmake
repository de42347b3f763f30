# Writes a C++ source that holds a text file as a character array, so the binary carries it
# (net/http/openapi.json -> openapi_document.cpp). Run as
#   cmake -DINPUT=<file> -DOUTPUT=<file.cpp> -DNAMESPACE=<ns> -DSYMBOL=<name> -P embed_text.cmake
# It defines `const char <SYMBOL>[]` (NUL-terminated) and `const unsigned long <SYMBOL>Size`.
# The text goes in as a raw string literal in pieces under 16 KiB (compilers' literal limits).
file(READ "${INPUT}" text)
string(LENGTH "${text}" size)
set(body "")
set(offset 0)
while(offset LESS size)
  string(SUBSTRING "${text}" ${offset} 16000 piece)
  string(FIND "${piece}" ")sdw_embed\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${INPUT} contains the raw string delimiter )sdw_embed\"")
  endif()
  string(APPEND body "R\"sdw_embed(${piece})sdw_embed\"\n")
  math(EXPR offset "${offset} + 16000")
endwhile()
set(content "// Generated from ${INPUT} by cmake/embed_text.cmake: do not edit.\n")
string(APPEND content "namespace ${NAMESPACE} {\n")
string(APPEND content "extern const char ${SYMBOL}[];\nextern const unsigned long ${SYMBOL}Size;\n")
string(APPEND content "const char ${SYMBOL}[] =\n${body};\n")
string(APPEND content "const unsigned long ${SYMBOL}Size = sizeof(${SYMBOL}) - 1;\n")
string(APPEND content "}  // namespace ${NAMESPACE}\n")
file(WRITE "${OUTPUT}.tmp" "${content}")
configure_file("${OUTPUT}.tmp" "${OUTPUT}" COPYONLY)  # rewritten only when it differs
file(REMOVE "${OUTPUT}.tmp")
