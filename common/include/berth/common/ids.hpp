#pragma once
// Random identifiers (UUIDv4) for containers, masters and status updates.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace berth::ids {

using Uuid = std::array<std::uint8_t, 16>;

Uuid random_uuid();
// 8-4-4-4-12 lower-case hex.
std::string to_string(const Uuid& uuid);
inline std::string random_string() { return to_string(random_uuid()); }
// The 16 raw bytes, as Mesos carries status update uuids.
inline std::string to_bytes(const Uuid& uuid) { return std::string(uuid.begin(), uuid.end()); }

// Whether `id` is safe to use as one path component: non-empty, at most 255 bytes,
// only [A-Za-z0-9._-], and not "." or "..".
bool is_safe_path_component(std::string_view id);

}  // namespace berth::ids
