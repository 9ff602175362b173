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
  auto accept = codec::from_accept(request[boost::beast::http::field::accept]);
  if (!accept) {
    return std::unexpected(HttpError{http::Status::not_acceptable,
                                     "Expecting 'Accept' to allow application/json or "
                                     "application/x-protobuf"});
  }
  return Negotiated{*format, *accept};
}

http::Response error_response(const HttpError& error) {
  auto response = http::error_response(error.status, error.message);
  if (error.status == http::Status::method_not_allowed) {
    response.set(boost::beast::http::field::allow, "POST");
  }
  return response;
}

}  // namespace berth::master
