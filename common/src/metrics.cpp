#include "berth/common/metrics.hpp"

#include <fmt/format.h>

namespace berth::metrics {
namespace {

std::string escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first + "=\"" + escape(labels[i].second) + '"';
  }
  return out + "}";
}

}  // namespace

void Registry::inc(const std::string& name, const Labels& labels, double value) {
  auto& family = families_[name];
  family.samples[render_labels(labels)] += value;
}

void Registry::set(const std::string& name, const Labels& labels, double value) {
  families_[name].samples[render_labels(labels)] = value;
}

void Registry::gauge_fn(const std::string& name, std::function<double()> fn) {
  families_[name].fn = std::move(fn);
}

void Registry::describe(const std::string& name, std::string type, std::string help) {
  auto& family = families_[name];
  family.type = std::move(type);
  family.help = std::move(help);
}

double Registry::value(const std::string& name, const Labels& labels) const {
  auto family = families_.find(name);
  if (family == families_.end()) return 0;
  if (family->second.fn) return family->second.fn();
  auto sample = family->second.samples.find(render_labels(labels));
  return sample == family->second.samples.end() ? 0 : sample->second;
}

std::string Registry::render() const {
  std::string out;
  for (const auto& [name, family] : families_) {
    if (!family.help.empty()) out += fmt::format("# HELP {} {}\n", name, family.help);
    out += fmt::format("# TYPE {} {}\n", name, family.type);
    if (family.fn) {
      out += fmt::format("{} {}\n", name, family.fn());
      continue;
    }
    if (family.samples.empty() && family.type == "counter") out += name + " 0\n";
    for (const auto& [labels, value] : family.samples) {
      out += fmt::format("{}{} {}\n", name, labels, value);
    }
  }
  return out;
}

}  // namespace berth::metrics
