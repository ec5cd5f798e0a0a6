# Generates a C++ source returning customers/data/common-passwords.txt as a string_view (run at build time).
file(READ "${INPUT}" content)
set(out "// Generated from core/customers/data/common-passwords.txt: do not edit.\n#include <string_view>\n\nnamespace quanqu::customers {\n\nstd::string_view common_passwords_text() {\n  static constexpr char text[] = R\"qqpw(${content})qqpw\";\n  return std::string_view(text, sizeof(text) - 1);\n}\n\n}  // namespace quanqu::customers\n")
file(WRITE "${OUTPUT}.tmp" "${out}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
