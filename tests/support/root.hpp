#pragma once
// Tests that need root skip loudly without it, except under CI (CI=true),
// where running them is mandatory and a missing privilege is a failure.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#define BERTH_REQUIRE_ROOT()                                                   \
  do {                                                                         \
    if (::geteuid() != 0) {                                                    \
      if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true") \
        FAIL() << "this test needs root, and CI must run it";                  \
      GTEST_SKIP() << "needs root";                                            \
    }                                                                          \
  } while (0)
