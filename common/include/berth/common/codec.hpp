#pragma once
// Protobuf messages on the wire as application/x-protobuf or application/json,
// with JSON field and enum names exactly as declared in the .proto files (as Mesos does).

#include <google/protobuf/message.h>

#include <optional>
#include <string>
#include <string_view>

#include "berth/common/error.hpp"

namespace berth::codec {

enum class Format { Protobuf, Json };

inline constexpr std::string_view kProtobufType = "application/x-protobuf";
inline constexpr std::string_view kJsonType = "application/json";
inline constexpr std::string_view kRecordIoType = "application/recordio";

std::string_view content_type(Format format);
// The format a request body is in, from its Content-Type (parameters ignored).
Result<Format> from_content_type(std::string_view content_type);
// The format a client accepts: JSON for an empty Accept or "*/*"; nullopt if neither is accepted.
std::optional<Format> from_accept(std::string_view accept);
// Whether an Accept header lists `type` (parameters ignored).
bool lists_media_type(std::string_view accept, std::string_view type);

Result<void> decode(Format format, std::string_view body, google::protobuf::Message& out);
std::string encode(Format format, const google::protobuf::Message& message);
std::string to_json(const google::protobuf::Message& message);

}  // namespace berth::codec
