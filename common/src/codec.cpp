#include "berth/common/codec.hpp"

#include <boost/beast/core/detail/base64.hpp>
#include <boost/json.hpp>
#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <iterator>
#include <vector>

#include <fmt/format.h>

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

bool lists_media_type(std::string_view accept, std::string_view type) { return lists(accept, type); }

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

namespace {

namespace json = boost::json;
namespace pb = google::protobuf;

void append_message(std::string& out, const pb::Message& message);

void append_string(std::string& out, std::string_view text) { out += json::serialize(json::string(text)); }

// A double as its shortest round-trip text ("10", "0.1"), not in exponent
// form where that is longer; NaN and infinities, which JSON lacks, as null.
void append_double(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  fmt::format_to(std::back_inserter(out), "{}", value);
}

// One value of a field, as Mesos's JSON has it: 64-bit integers as numbers
// (protobuf's own printer writes them as strings), bytes in base64, enums by
// name.
void append_value(std::string& out, const pb::Message& message, const pb::FieldDescriptor* field, int index) {
  const auto* reflection = message.GetReflection();
  bool repeated = field->is_repeated();
  using T = pb::FieldDescriptor;
  switch (field->cpp_type()) {
    case T::CPPTYPE_INT32:
      out += std::to_string(repeated ? reflection->GetRepeatedInt32(message, field, index)
                                     : reflection->GetInt32(message, field));
      return;
    case T::CPPTYPE_INT64:
      out += std::to_string(repeated ? reflection->GetRepeatedInt64(message, field, index)
                                     : reflection->GetInt64(message, field));
      return;
    case T::CPPTYPE_UINT32:
      out += std::to_string(repeated ? reflection->GetRepeatedUInt32(message, field, index)
                                     : reflection->GetUInt32(message, field));
      return;
    case T::CPPTYPE_UINT64:
      out += std::to_string(repeated ? reflection->GetRepeatedUInt64(message, field, index)
                                     : reflection->GetUInt64(message, field));
      return;
    case T::CPPTYPE_DOUBLE:
      append_double(out, repeated ? reflection->GetRepeatedDouble(message, field, index)
                                  : reflection->GetDouble(message, field));
      return;
    case T::CPPTYPE_FLOAT:
      append_double(out, repeated ? reflection->GetRepeatedFloat(message, field, index)
                                  : reflection->GetFloat(message, field));
      return;
    case T::CPPTYPE_BOOL:
      out += (repeated ? reflection->GetRepeatedBool(message, field, index) : reflection->GetBool(message, field))
                 ? "true"
                 : "false";
      return;
    case T::CPPTYPE_ENUM:
      append_string(out, (repeated ? reflection->GetRepeatedEnum(message, field, index)
                                   : reflection->GetEnum(message, field))->name());
      return;
    case T::CPPTYPE_STRING: {
      auto text = repeated ? reflection->GetRepeatedString(message, field, index) : reflection->GetString(message, field);
      if (field->type() != T::TYPE_BYTES) {
        append_string(out, text);
        return;
      }
      std::string encoded(boost::beast::detail::base64::encoded_size(text.size()), '\0');
      encoded.resize(boost::beast::detail::base64::encode(encoded.data(), text.data(), text.size()));
      append_string(out, encoded);
      return;
    }
    case T::CPPTYPE_MESSAGE:
      append_message(out, repeated ? reflection->GetRepeatedMessage(message, field, index)
                                   : reflection->GetMessage(message, field));
      return;
  }
}

void append_message(std::string& out, const pb::Message& message) {
  const auto* reflection = message.GetReflection();
  std::vector<const pb::FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  out += '{';
  for (std::size_t f = 0; f < fields.size(); ++f) {
    const auto* field = fields[f];
    if (f > 0) out += ',';
    append_string(out, field->name());
    out += ':';
    if (field->is_map()) {
      // map<K, V> is an object keyed by K's text, as protobuf's JSON mapping has it.
      out += '{';
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        const auto& entry = reflection->GetRepeatedMessage(message, field, i);
        const auto* key = entry.GetDescriptor()->map_key();
        if (i > 0) out += ',';
        std::string key_text;
        append_value(key_text, entry, key, 0);
        if (key_text.empty() || key_text.front() != '"') key_text = json::serialize(json::string(key_text));
        out += key_text;
        out += ':';
        append_value(out, entry, entry.GetDescriptor()->map_value(), 0);
      }
      out += '}';
    } else if (field->is_repeated()) {
      out += '[';
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        if (i > 0) out += ',';
        append_value(out, message, field, i);
      }
      out += ']';
    } else {
      append_value(out, message, field, 0);
    }
  }
  out += '}';
}

}  // namespace

std::string to_json(const google::protobuf::Message& message) {
  std::string out;
  append_message(out, message);
  return out;
}

std::string encode(Format format, const google::protobuf::Message& message) {
  if (format == Format::Json) return to_json(message);
  return message.SerializeAsString();
}

}  // namespace berth::codec
