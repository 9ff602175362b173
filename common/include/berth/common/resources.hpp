#pragma once
// Mesos resource semantics: named scalars (cpus, mem and disk in MB, gpus),
// ranges (ports) and sets, over mesos::v1::Resource. Scalars are fixed point
// with three decimal places, as in Mesos, so 0.1 + 0.2 == 0.3 and repeated
// arithmetic never drifts. Roles are not modelled: everything is the default
// role "*".

#include <google/protobuf/repeated_ptr_field.h>

#include <algorithm>
#include <cstdint>
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
  // The Resource messages of that JSON form, as given.
  static Result<Protos> protos_from_json(std::string_view json);
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

  // Calls fn(name, value) for each scalar, by name.
  template <typename Fn>
  void each_scalar(Fn&& fn) const {
    for (const auto& [name, entry] : entries_) {
      if (entry.type == mesos::v1::Value::SCALAR) fn(std::string_view(name), static_cast<double>(entry.milli) / 1000);
    }
  }
  // Only the scalars.
  Resources scalars() const;
  // Sets a scalar (rounded to thousandths; 0 removes it). A name held as
  // ranges or a set is left alone.
  Resources& set_scalar(std::string_view name, double value);

 private:
  struct Entry {
    mesos::v1::Value::Type type = mesos::v1::Value::SCALAR;
    std::int64_t milli = 0;       // SCALAR, in thousandths
    std::vector<Range> ranges;    // RANGES, sorted, disjoint, non-adjacent
    std::vector<std::string> items;  // SET, sorted and unique (smaller than a tree when empty)
    bool operator==(const Entry&) const = default;
    bool is_empty() const;
  };
  Result<void> add(const std::string& name, Entry entry);
  void drop_empty();

  // A handful of names at most: a vector sorted by name copies, compares
  // and searches faster than a tree of nodes, which the master's allocator
  // feels on every offer.
  class Entries {
   public:
    using Item = std::pair<std::string, Entry>;
    using iterator = std::vector<Item>::iterator;
    using const_iterator = std::vector<Item>::const_iterator;
    iterator begin() { return items_.begin(); }
    iterator end() { return items_.end(); }
    const_iterator begin() const { return items_.begin(); }
    const_iterator end() const { return items_.end(); }
    bool empty() const { return items_.empty(); }
    // A linear scan: a handful of short names, most told apart by their
    // length or first letter without a memcmp.
    iterator find(std::string_view name) {
      for (auto it = items_.begin(); it != items_.end(); ++it) {
        const auto& key = it->first;
        if (key.size() == name.size() && !name.empty() && key[0] == name[0] && key == name) return it;
      }
      return items_.end();
    }
    const_iterator find(std::string_view name) const { return const_cast<Entries*>(this)->find(name); }
    bool contains(std::string_view name) const { return find(name) != end(); }
    // Inserts unless the name is there; the entry is moved from only if inserted.
    std::pair<iterator, bool> try_emplace(std::string_view name, Entry&& entry) {
      auto it = lower_bound(name);
      if (it != items_.end() && it->first == name) return {it, false};
      if (items_.capacity() == 0) {  // cpus, mem, disk, ports: one allocation, not three
        items_.reserve(4);
        it = items_.end();
      }
      return {items_.emplace(it, std::string(name), std::move(entry)), true};
    }
    std::pair<iterator, bool> try_emplace(std::string_view name, const Entry& entry) {
      return try_emplace(name, Entry(entry));
    }
    iterator erase(iterator it) { return items_.erase(it); }
    template <typename Pred>
    void erase_if(Pred pred) {
      std::erase_if(items_, pred);
    }
    bool operator==(const Entries&) const = default;

   private:
    iterator lower_bound(std::string_view name) {
      return std::lower_bound(items_.begin(), items_.end(), name,
                              [](const Item& item, std::string_view n) { return item.first < n; });
    }
    std::vector<Item> items_;
  };
  Entries entries_;
};

}  // namespace berth
