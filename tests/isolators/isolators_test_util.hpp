#pragma once
// Helpers shared by the isolator tests.

#include "support/temp_dir.hpp"

namespace berth::isolators::testing {
using berth::testing::slurp;
using berth::testing::TempDir;
using berth::testing::write_text;
}  // namespace berth::isolators::testing
