#include "request.hpp"

namespace berth::master {

std::expected<Negotiated, HttpError> negotiate(const http::Request& request) {
  if (request.method() != http::Verb::post) {
    return std::unexpected(HttpError{http::Status::method_not_allowed,
                                     "Expecting 'POST', received '" +
                                         std::string(request.method_string()) + "'"});
  }
  auto format = codec::from_content_type(request[boost::beast::http::field::content_type]);
  if (!format) {
    return std::unexpected(HttpError{http::Status::unsupported_media_type, format.error().what()});
  }
  auto accept_header = request[boost::beast::http::field::accept];
  bool recordio = codec::lists_media_type(accept_header, codec::kRecordIoType);
  auto accept = codec::from_accept(recordio ? request["Message-Accept"] : accept_header);
  if (!accept) {
    return std::unexpected(HttpError{http::Status::not_acceptable,
                                     recordio ? "Expecting 'Message-Accept' to allow application/json or "
                                                "application/x-protobuf"
                                              : "Expecting 'Accept' to allow application/json or "
                                                "application/x-protobuf"});
  }
  return Negotiated{*format, *accept, recordio};
}

http::Response stream_head(const Negotiated& negotiated) {
  auto message_type = std::string(codec::content_type(negotiated.response_format));
  if (!negotiated.recordio) return http::make_response(http::Status::ok, "", message_type);
  auto head = http::make_response(http::Status::ok, "", codec::kRecordIoType);
  head.set("Message-Content-Type", message_type);
  return head;
}

http::Response error_response(const HttpError& error) {
  auto response = http::error_response(error.status, error.message);
  if (error.status == http::Status::method_not_allowed) {
    response.set(boost::beast::http::field::allow, "POST");
  }
  return response;
}

}  // namespace berth::master
