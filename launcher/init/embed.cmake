# cmake -DINPUT=<file> -DOUTPUT=<file.cpp> -P embed.cmake: the bytes of INPUT
# as berth::launcher::kInitImage.
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n  " bytes "${bytes}")
file(WRITE ${OUTPUT}.tmp "// Generated from berth-init by launcher/init/embed.cmake.\n#include <cstddef>\n\nnamespace berth::launcher {\nextern const unsigned char kInitImage[];\nextern const std::size_t kInitImageSize;\nalignas(64) const unsigned char kInitImage[] = {\n  ${bytes}\n};\nconst std::size_t kInitImageSize = ${size};\n}  // namespace berth::launcher\n")
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
