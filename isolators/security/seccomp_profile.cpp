// Docker / OCI seccomp profiles in JSON, and their canonical text.
//
//   {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
//    "architectures": ["SCMP_ARCH_X86_64"],            (OCI)
//    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": [...]}],  (Docker)
//    "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
//                  "args": [{"index": 0, "value": 1, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
//                  "includes": {"caps": ["CAP_SYS_ADMIN"]}, "excludes": {"caps": [...]},
//                  "errnoRet": 1}]}

#include <seccomp.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "berth/isolators/seccomp.hpp"

namespace berth::isolators::seccomp {
namespace {

namespace json = boost::json;

struct Parser {
  std::string source;

  Error error(std::string_view where, std::string_view what) const {
    return Error(fmt::format("seccomp profile {}: {}: {}", source, where, what));
  }

  Result<std::string> string(const json::value& value, std::string_view where) const {
    if (!value.is_string()) return fail(error(where, "must be a string"));
    return std::string(value.as_string());
  }

  Result<std::uint64_t> number(const json::value& value, std::string_view where) const {
    if (value.is_uint64()) return value.as_uint64();
    if (value.is_int64() && value.as_int64() >= 0) return static_cast<std::uint64_t>(value.as_int64());
    return fail(error(where, "must be a non-negative integer"));
  }

  Result<std::vector<std::string>> strings(const json::value& value, std::string_view where) const {
    if (!value.is_array()) return fail(error(where, "must be an array of strings"));
    std::vector<std::string> out;
    for (std::size_t i = 0; i < value.as_array().size(); ++i) {
      BERTH_TRY(auto item, string(value.as_array()[i], fmt::format("{}[{}]", where, i)));
      out.push_back(std::move(item));
    }
    return out;
  }

  Result<Action> action(const json::value& value, std::string_view where) const {
    BERTH_TRY(auto name, string(value, where));
    static const std::map<std::string, Action, std::less<>> actions{
        {"SCMP_ACT_ALLOW", Action::allow},         {"SCMP_ACT_ERRNO", Action::errno_code},
        {"SCMP_ACT_KILL", Action::kill_thread},    {"SCMP_ACT_KILL_THREAD", Action::kill_thread},
        {"SCMP_ACT_KILL_PROCESS", Action::kill_process}, {"SCMP_ACT_TRAP", Action::trap},
        {"SCMP_ACT_TRACE", Action::trace},         {"SCMP_ACT_LOG", Action::log}};
    auto it = actions.find(name);
    if (it == actions.end()) return fail(error(where, "unknown action '" + name + "'"));
    return it->second;
  }

  Result<Compare> compare(const json::value& value, std::string_view where) const {
    BERTH_TRY(auto name, string(value, where));
    static const std::map<std::string, Compare, std::less<>> ops{
        {"SCMP_CMP_NE", Compare::not_equal},     {"SCMP_CMP_LT", Compare::less_than},
        {"SCMP_CMP_LE", Compare::less_equal},    {"SCMP_CMP_EQ", Compare::equal},
        {"SCMP_CMP_GE", Compare::greater_equal}, {"SCMP_CMP_GT", Compare::greater_than},
        {"SCMP_CMP_MASKED_EQ", Compare::masked_equal}};
    auto it = ops.find(name);
    if (it == ops.end()) return fail(error(where, "unknown comparison '" + name + "'"));
    return it->second;
  }

  Result<std::string> architecture(const json::value& value, std::string_view where) const {
    BERTH_TRY(auto name, string(value, where));
    if (architecture_token(name) == 0) {
      return fail(error(where, "unknown architecture '" + name + "'"));
    }
    return name;
  }

  Result<void> caps(const json::value& object, std::string_view key, std::vector<std::string>& out,
                    std::string_view where) const {
    if (!object.is_object()) return fail(error(where, "must be an object"));
    for (const auto& [field, value] : object.as_object()) {
      if (field == "caps") {
        BERTH_TRY(out, strings(value, fmt::format("{}.caps", where)));
        for (const auto& cap : out) {
          if (!cap.starts_with("CAP_")) return fail(error(where, "capability '" + cap + "' must be a CAP_ name"));
        }
      } else if (field != "arches" && field != "minKernel") {
        // "arches" and "minKernel" narrow a rule to other architectures or
        // older kernels; on this host the rule applies as written.
        return fail(error(where, "unknown field '" + std::string(field) + "' in " + std::string(key)));
      }
    }
    return {};
  }

  Result<Rule> rule(const json::value& value, std::string_view where) const {
    if (!value.is_object()) return fail(error(where, "must be an object"));
    Rule rule;
    bool has_action = false;
    for (const auto& [field, item] : value.as_object()) {
      auto at = fmt::format("{}.{}", where, std::string_view(field));
      if (field == "names") {
        BERTH_TRY(rule.names, strings(item, at));
      } else if (field == "name") {
        BERTH_TRY(auto name, string(item, at));
        rule.names.push_back(std::move(name));
      } else if (field == "action") {
        BERTH_TRY(rule.action, action(item, at));
        has_action = true;
      } else if (field == "errnoRet") {
        BERTH_TRY(auto code, number(item, at));
        rule.errno_code = static_cast<int>(code);
      } else if (field == "args") {
        if (item.is_null()) continue;
        if (!item.is_array()) return fail(error(at, "must be an array"));
        for (std::size_t i = 0; i < item.as_array().size(); ++i) {
          const auto& arg = item.as_array()[i];
          auto arg_at = fmt::format("{}[{}]", at, i);
          if (!arg.is_object()) return fail(error(arg_at, "must be an object"));
          ArgCondition condition;
          for (const auto& [key, v] : arg.as_object()) {
            auto key_at = fmt::format("{}.{}", arg_at, std::string_view(key));
            if (key == "index") {
              BERTH_TRY(auto index, number(v, key_at));
              if (index > 5) return fail(error(key_at, "must be 0-5"));
              condition.index = static_cast<unsigned>(index);
            } else if (key == "value") {
              BERTH_TRY(condition.value, number(v, key_at));
            } else if (key == "valueTwo") {
              BERTH_TRY(condition.value_two, number(v, key_at));
            } else if (key == "op") {
              BERTH_TRY(condition.op, compare(v, key_at));
            } else {
              return fail(error(arg_at, "unknown field '" + std::string(key) + "'"));
            }
          }
          rule.args.push_back(condition);
        }
      } else if (field == "includes") {
        BERTH_TRY_VOID(caps(item, "includes", rule.caps_required, at));
      } else if (field == "excludes") {
        BERTH_TRY_VOID(caps(item, "excludes", rule.caps_excluded, at));
      } else if (field != "comment") {
        return fail(error(where, "unknown field '" + std::string(field) + "'"));
      }
    }
    if (rule.names.empty()) return fail(error(where, "names no syscall"));
    if (!has_action) return fail(error(where, "has no action"));
    for (const auto& name : rule.names) {
      if (seccomp_syscall_resolve_name(name.c_str()) == __NR_SCMP_ERROR) {
        return fail(error(where, "unknown syscall '" + name + "'"));
      }
    }
    return rule;
  }

  Result<Profile> profile(const json::value& root) const {
    if (!root.is_object()) return fail(error("the profile", "must be a JSON object"));
    Profile out;
    bool has_default = false;
    for (const auto& [field, value] : root.as_object()) {
      if (field == "defaultAction") {
        BERTH_TRY(out.default_action, action(value, "defaultAction"));
        has_default = true;
      } else if (field == "defaultErrnoRet") {
        BERTH_TRY(auto code, number(value, "defaultErrnoRet"));
        out.default_errno = static_cast<int>(code);
      } else if (field == "architectures") {
        BERTH_TRY(auto names, strings(value, "architectures"));
        for (const auto& name : names) BERTH_TRY_VOID(architecture(json::value(name), "architectures"));
        out.architectures = std::move(names);
      } else if (field == "archMap") {
        if (!value.is_array()) return fail(error("archMap", "must be an array"));
        for (std::size_t i = 0; i < value.as_array().size(); ++i) {
          const auto& entry = value.as_array()[i];
          auto at = fmt::format("archMap[{}]", i);
          if (!entry.is_object() || !entry.as_object().contains("architecture")) {
            return fail(error(at, "must be an object with \"architecture\""));
          }
          BERTH_TRY(auto arch, architecture(entry.at("architecture"), at + ".architecture"));
          out.architectures.push_back(std::move(arch));
          if (const auto* subs = entry.as_object().if_contains("subArchitectures")) {
            BERTH_TRY(auto names, strings(*subs, at + ".subArchitectures"));
            for (auto& name : names) {
              BERTH_TRY_VOID(architecture(json::value(name), at + ".subArchitectures"));
              out.architectures.push_back(std::move(name));
            }
          }
        }
      } else if (field == "syscalls") {
        if (!value.is_array()) return fail(error("syscalls", "must be an array"));
        for (std::size_t i = 0; i < value.as_array().size(); ++i) {
          BERTH_TRY(auto r, rule(value.as_array()[i], fmt::format("syscalls[{}]", i)));
          out.rules.push_back(std::move(r));
        }
      } else if (field != "flags" && field != "listenerPath" && field != "listenerMetadata") {
        return fail(error("the profile", "unknown field '" + std::string(field) + "'"));
      }
    }
    if (!has_default) return fail(error("the profile", "has no defaultAction"));
    return out;
  }
};

std::string_view action_name(Action action) {
  switch (action) {
    case Action::allow: return "allow";
    case Action::errno_code: return "errno";
    case Action::kill_thread: return "kill_thread";
    case Action::kill_process: return "kill_process";
    case Action::trap: return "trap";
    case Action::trace: return "trace";
    case Action::log: return "log";
  }
  return "?";
}

}  // namespace

Result<Profile> parse_profile(std::string_view text, std::string_view source) {
  Parser parser{std::string(source)};
  boost::system::error_code ec;
  auto root = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) return fail(parser.error("the file", "is not JSON: " + ec.message()));
  return parser.profile(root);
}

std::string Profile::canonical() const {
  std::string out = fmt::format("default={}:{};arch={}", action_name(default_action), default_errno.value_or(-1),
                                fmt::join(architectures, ","));
  for (const auto& rule : rules) {
    fmt::format_to(std::back_inserter(out), "|{}:{}:{}:+{}:-{}", fmt::join(rule.names, ","), action_name(rule.action),
                   rule.errno_code.value_or(-1), fmt::join(rule.caps_required, ","),
                   fmt::join(rule.caps_excluded, ","));
    for (const auto& arg : rule.args) {
      fmt::format_to(std::back_inserter(out), ":a{}{}{}/{}", arg.index, static_cast<int>(arg.op), arg.value,
                     arg.value_two);
    }
  }
  return out;
}

}  // namespace berth::isolators::seccomp
