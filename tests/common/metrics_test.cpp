#include "berth/common/metrics.hpp"

#include <gtest/gtest.h>

namespace berth::metrics {
namespace {

TEST(Metrics, RendersPrometheusTextFormat) {
  Registry registry;
  registry.describe("berth_things_total", "counter", "Things seen");
  registry.inc("berth_things_total", {{"kind", "a"}});
  registry.inc("berth_things_total", {{"kind", "a"}}, 2);
  registry.inc("berth_things_total", {{"kind", "b\"q"}});
  registry.set("berth_level", {}, 1.5);
  registry.gauge_fn("berth_computed", [] { return 42.0; });
  auto text = registry.render();
  EXPECT_NE(text.find("# HELP berth_things_total Things seen\n# TYPE berth_things_total counter\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("berth_things_total{kind=\"a\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("berth_things_total{kind=\"b\\\"q\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("berth_level 1.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("berth_computed 42\n"), std::string::npos) << text;
  EXPECT_EQ(registry.value("berth_things_total", {{"kind", "a"}}), 3);
  EXPECT_EQ(registry.value("berth_missing"), 0);
}

TEST(Metrics, DeclaredCountersStartAtZero) {
  Registry registry;
  registry.describe("berth_errors_total", "counter", "Errors");
  EXPECT_NE(registry.render().find("berth_errors_total 0\n"), std::string::npos);
}

}  // namespace
}  // namespace berth::metrics
