# Generates a C++ source returning one text file as a string_view (run at build time).
file(READ "${INPUT}" content)
set(out "// Generated from ${NAME}: do not edit.\n#include <string_view>\n\nnamespace quanqu::api {\n\nstd::string_view ${SYMBOL}() {\n  // An array and sizeof, not a constexpr string_view: its length would be counted at compile time\n  // by a loop that a large document takes past the compiler's constexpr step limit.\n  static constexpr char text[] = R\"qqdoc(${content})qqdoc\";\n  return std::string_view(text, sizeof(text) - 1);\n}\n\n}  // namespace quanqu::api\n")
file(WRITE "${OUTPUT}.tmp" "${out}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
