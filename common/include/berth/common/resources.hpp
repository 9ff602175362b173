#pragma once
// Mesos resource semantics: named scalars (cpus, mem and disk in MB, gpus),
// ranges (ports) and sets, over mesos::v1::Resource. Scalars are fixed point
// with three decimal places, as in Mesos, so 0.1 + 0.2 == 0.3 and repeated
// arithmetic never drifts. Roles are not modelled: everything is the default
// role "*".

#include <google/protobuf/repeated_ptr_field.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "berth/common/error.hpp"
#include "mesos/v1/mesos.pb.h"

namespace berth {

class Resources {
 public:
  using Range = std::pair<std::uint64_t, std::uint64_t>;  // inclusive: [first, second]
  using Protos = google::protobuf::RepeatedPtrField<mesos::v1::Resource>;

  Resources() = default;
  // Mesos's text form: "cpus:2;mem:1024;ports:[31000-32000,40000-40010];zones:{a,b}".
  // A name may carry the default role, "cpus(*):2"; any other role is refused.
  static Result<Resources> parse(std::string_view text);
  // Mesos's JSON form for --resources: [{"name":"cpus","type":"SCALAR","scalar":{"value":2}}, ...]
  static Result<Resources> parse_json(std::string_view json);
  // Resources of the same name are added together; `role` is ignored.
  static Result<Resources> from_proto(const Protos& resources);
  // One Resource per name, sorted by name.
  Protos to_proto() const;

  bool empty() const { return entries_.empty(); }
  // Every scalar at least as large, every range and set a superset.
  bool contains(const Resources& other) const;
  // Ranges merge and coalesce ([1-2] + [3-4] = [1-4]). A name already held
  // with another type keeps its value: callers build both sides with parse()
  // or from_proto(), which refuse such clashes.
  Resources& operator+=(const Resources& other);
  // Meant for `contains(other)`; beyond it, scalars stop at zero and ranges
  // or set items not held are ignored.
  Resources& operator-=(const Resources& other);
  friend Resources operator+(Resources a, const Resources& b) { return a += b; }
  friend Resources operator-(Resources a, const Resources& b) { return a -= b; }
  bool operator==(const Resources& other) const = default;

  // Absent (or zero) scalars are nullopt.
  std::optional<double> scalar(std::string_view name) const;
  double cpus() const { return scalar("cpus").value_or(0); }
  double mem_mb() const { return scalar("mem").value_or(0); }
  double disk_mb() const { return scalar("disk").value_or(0); }
  // Sorted, disjoint and non-adjacent; empty when absent.
  std::vector<Range> ranges(std::string_view name) const;
  std::set<std::string> set(std::string_view name) const;
  // The text form, sorted by name: "cpus:0.1;mem:32;ports:[31000-32000]".
  std::string to_string() const;

 private:
  struct Entry {
    mesos::v1::Value::Type type = mesos::v1::Value::SCALAR;
    std::int64_t milli = 0;       // SCALAR, in thousandths
    std::vector<Range> ranges;    // RANGES, sorted, disjoint, non-adjacent
    std::set<std::string> items;  // SET
    bool operator==(const Entry&) const = default;
    bool is_empty() const;
  };
  Result<void> add(const std::string& name, Entry entry);
  void drop_empty();

  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace berth
