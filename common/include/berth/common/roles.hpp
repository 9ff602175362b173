#pragma once
// Mesos role names: "*" (the default role, which holds no reservations) or a
// path of '/'-separated segments ("eng", "eng/web"). A segment is not empty,
// ".", ".." or "*", does not start with '-', and has no whitespace,
// backslash or control character.

#include <string>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"

namespace berth::roles {

inline constexpr std::string_view kDefault = "*";

// Errors name the role and what is wrong with it.
Result<void> validate(std::string_view role);

// "eng/web/api" -> {"eng", "eng/web", "eng/web/api"}; "*" -> {"*"}.
std::vector<std::string> path(std::string_view role);

// "eng/web" is a strict subrole of "eng", not of "eng/web" or "en".
bool is_strict_subrole(std::string_view role, std::string_view parent);

}  // namespace berth::roles
