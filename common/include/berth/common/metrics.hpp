#pragma once
// A small registry of Prometheus counters and gauges, rendered in the text
// exposition format (version 0.0.4). Single-threaded, like the daemons' event loops.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace berth::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Registry {
 public:
  // Adds `value` to a counter (created at 0 on first use).
  void inc(const std::string& name, const Labels& labels = {}, double value = 1);
  void set(const std::string& name, const Labels& labels, double value);
  // A gauge computed when rendered.
  void gauge_fn(const std::string& name, std::function<double()> fn);
  // Declares a family: its type ("counter" or "gauge") and help text.
  void describe(const std::string& name, std::string type, std::string help);
  double value(const std::string& name, const Labels& labels = {}) const;
  std::string render() const;

 private:
  struct Family {
    std::string type = "gauge";
    std::string help;
    std::map<std::string, double> samples;  // rendered label set -> value
    std::function<double()> fn;
  };
  std::map<std::string, Family> families_;
};

inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace berth::metrics
