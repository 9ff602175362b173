#include "berth/common/flags.hpp"

#include <algorithm>
#include <cctype>
#include <iostream>

namespace berth::flags {

void bind_env(CLI::App& app, std::string_view prefix) {
  for (CLI::Option* option : app.get_options()) {
    const auto& names = option->get_lnames();
    if (names.empty() || names.front() == "help" || names.front() == "version") continue;
    std::string env(prefix);
    for (char c : names.front()) env += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    option->envname(env);
  }
  for (CLI::App* sub : app.get_subcommands({})) bind_env(*sub, prefix);
}

std::optional<int> parse(CLI::App& app, int argc, const char* const* argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e, std::cout, std::cerr);
    return code;
  }
  return std::nullopt;
}

}  // namespace berth::flags
