#pragma once
// Reading a protobuf Call from an HTTP request the way Mesos's v1 APIs do:
// POST only (405), a supported Content-Type (415), an acceptable Accept (406),
// a well-formed, complete message (400).

#include <expected>
#include <string>

#include "berth/common/codec.hpp"
#include "berth/common/http.hpp"

namespace berth::master {

struct HttpError {
  http::Status status;
  std::string message;
};

struct Negotiated {
  codec::Format request_format;
  codec::Format response_format;
  // A stream asked for as application/recordio, its records' type in
  // Message-Accept; otherwise the stream's Content-Type is the records' type.
  bool recordio = false;
};

// The head of a SUBSCRIBE's event stream, as Mesos sends it.
http::Response stream_head(const Negotiated& negotiated);

std::expected<Negotiated, HttpError> negotiate(const http::Request& request);

template <typename Call>
std::expected<std::pair<Call, Negotiated>, HttpError> parse_call(const http::Request& request) {
  auto negotiated = negotiate(request);
  if (!negotiated) return std::unexpected(negotiated.error());
  Call call;
  auto decoded = codec::decode(negotiated->request_format, request.body(), call);
  if (!decoded) {
    return std::unexpected(HttpError{http::Status::bad_request, "Failed to parse body into Call: " +
                                                                    decoded.error().what()});
  }
  return std::pair{std::move(call), *negotiated};
}

http::Response error_response(const HttpError& error);

}  // namespace berth::master
