# Generates a C++ source returning one text file as a string_view (run at build time).
file(READ "${INPUT}" content)
set(out "// Generated from ${NAME}: do not edit.\n#include <string_view>\n\nnamespace quanqu::api {\n\nstd::string_view ${SYMBOL}() {\n  static constexpr std::string_view text = R\"qqdoc(${content})qqdoc\";\n  return text;\n}\n\n}  // namespace quanqu::api\n")
file(WRITE "${OUTPUT}.tmp" "${out}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
