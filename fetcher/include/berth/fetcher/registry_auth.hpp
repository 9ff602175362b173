#pragma once
// How a client proves itself to a registry (the Docker Registry HTTP API v2
// token flow): the registry answers 401 with a WWW-Authenticate challenge,
// either Basic (send the user's credentials) or Bearer (fetch a token from
// the realm it names, for the service and scope it names, then send that).
// Credentials come from a Docker config.json ("auths"), as `docker login`
// writes it.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "berth/common/error.hpp"

namespace berth::fetcher {

struct AuthChallenge {
  enum class Scheme { basic, bearer } scheme = Scheme::bearer;
  std::map<std::string, std::string> params;  // lower-cased names: realm, service, scope, error, ...
  std::string param(const std::string& name) const;
};

// The first Basic or Bearer challenge of a WWW-Authenticate header value
// (auth-params may be tokens or quoted strings with \-escapes, and quoted
// values may hold commas, as scope="repository:a:pull,push" does).
Result<AuthChallenge> parse_auth_challenge(std::string_view header);

struct Credentials {
  std::string username;
  std::string password;
  bool operator==(const Credentials&) const = default;
};

// The credentials a Docker config.json holds for `registry` (host[:port], as
// in an ImageReference). Its "auths" keys may be written as a bare host, with
// a scheme and path ("https://host/v1/"), and Docker Hub as
// "https://index.docker.io/v1/". An entry's "auth" is base64("user:password");
// "username"/"password" fields are read as well. nullopt when there is no
// entry; an error for a malformed file or entry, naming it.
Result<std::optional<Credentials>> credentials_from_docker_config(std::string_view config_json,
                                                                  std::string_view registry);

// The same from a file; a missing file means no credentials.
Result<std::optional<Credentials>> credentials_from_docker_config_file(const std::filesystem::path& path,
                                                                       std::string_view registry);

// The Bearer token in a token server's JSON answer ("token", or OAuth2's
// "access_token").
Result<std::string> token_from_response(std::string_view body);

std::string base64_encode(std::string_view data);
Result<std::string> base64_decode(std::string_view text);

}  // namespace berth::fetcher
