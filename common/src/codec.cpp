#include "berth/common/codec.hpp"

#include <google/protobuf/util/json_util.h>

#include <algorithm>

namespace berth::codec {
namespace {

std::string_view media_type(std::string_view header) {
  auto end = header.find(';');
  auto type = header.substr(0, end);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  while (!type.empty() && type.front() == ' ') type.remove_prefix(1);
  return type;
}

bool lists(std::string_view accept, std::string_view type) {
  while (!accept.empty()) {
    auto comma = accept.find(',');
    if (media_type(accept.substr(0, comma)) == type) return true;
    if (comma == std::string_view::npos) break;
    accept.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::string_view content_type(Format format) {
  return format == Format::Json ? kJsonType : kProtobufType;
}

Result<Format> from_content_type(std::string_view header) {
  auto type = media_type(header);
  if (type == kJsonType) return Format::Json;
  if (type == kProtobufType) return Format::Protobuf;
  if (type.empty()) return fail("missing Content-Type: expecting application/json or application/x-protobuf");
  return fail("unsupported Content-Type '" + std::string(type) +
              "': expecting application/json or application/x-protobuf");
}

std::optional<Format> from_accept(std::string_view accept) {
  if (media_type(accept).empty() || lists(accept, "*/*") || lists(accept, kJsonType) ||
      lists(accept, "application/*")) {
    return Format::Json;
  }
  if (lists(accept, kProtobufType)) return Format::Protobuf;
  return std::nullopt;
}

Result<void> decode(Format format, std::string_view body, google::protobuf::Message& out) {
  if (format == Format::Protobuf) {
    if (!out.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      return fail("malformed protobuf " + out.GetTypeName() + ": " + out.InitializationErrorString());
    }
    return {};
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(body.data(), body.size()), &out, options);
  if (!status.ok()) {
    return fail("malformed JSON " + out.GetTypeName() + ": " + std::string(status.message()));
  }
  if (!out.IsInitialized()) {
    return fail("incomplete " + out.GetTypeName() + ": missing " + out.InitializationErrorString());
  }
  return {};
}

std::string to_json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

std::string encode(Format format, const google::protobuf::Message& message) {
  if (format == Format::Json) return to_json(message);
  return message.SerializeAsString();
}

}  // namespace berth::codec
