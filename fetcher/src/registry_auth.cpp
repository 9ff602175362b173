#include "berth/fetcher/registry_auth.hpp"

#include <openssl/evp.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "berth/common/text.hpp"
#include "berth/fetcher/reference.hpp"

namespace berth::fetcher {
namespace {

namespace json = boost::json;

using text::ascii_lower;

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

void skip_spaces(std::string_view text, std::size_t& i) {
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
}

// A quoted-string starting at text[i] == '"'.
Result<std::string> quoted_string(std::string_view text, std::size_t& i) {
  std::string out;
  for (++i; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      out += text[++i];
    } else if (text[i] == '"') {
      ++i;
      return out;
    } else {
      out += text[i];
    }
  }
  return fail("unterminated quoted string");
}

// The registry's name as "auths" keys write it: "https://host:port/v1/" -> "host:port".
std::string key_host(std::string_view key) {
  if (auto scheme = key.find("://"); scheme != std::string_view::npos) key.remove_prefix(scheme + 3);
  key = key.substr(0, key.find('/'));
  return ascii_lower(key);
}

bool names_registry(std::string_view key, std::string_view registry) {
  auto host = key_host(key);
  auto wanted = ascii_lower(registry);
  if (host == wanted) return true;
  // Docker Hub goes by several names.
  auto is_hub = [](std::string_view h) {
    return h == kDockerHubDomain || h == kDockerHubRegistry || h == "index.docker.io";
  };
  return is_hub(host) && is_hub(wanted);
}

}  // namespace

std::string AuthChallenge::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

Result<AuthChallenge> parse_auth_challenge(std::string_view header) {
  auto parsed = [&]() -> Result<AuthChallenge> {
    std::size_t i = 0;
    skip_spaces(header, i);
    std::size_t start = i;
    while (i < header.size() && is_token_char(header[i])) ++i;
    auto scheme = ascii_lower(header.substr(start, i - start));
    AuthChallenge challenge;
    if (scheme == "bearer") {
      challenge.scheme = AuthChallenge::Scheme::bearer;
    } else if (scheme == "basic") {
      challenge.scheme = AuthChallenge::Scheme::basic;
    } else {
      return fail(fmt::format("scheme '{}' is neither Basic nor Bearer", scheme));
    }
    while (i < header.size()) {
      skip_spaces(header, i);
      if (i < header.size() && header[i] == ',') {
        ++i;
        continue;
      }
      std::size_t name_start = i;
      while (i < header.size() && is_token_char(header[i])) ++i;
      if (i == name_start) return fail(fmt::format("unexpected '{}' at offset {}", header[i], i));
      auto name = ascii_lower(header.substr(name_start, i - name_start));
      skip_spaces(header, i);
      // "Basic realm=..., Bearer ..." : a second challenge begins; the first is enough.
      if (i >= header.size() || header[i] != '=') break;
      ++i;
      skip_spaces(header, i);
      std::string value;
      if (i < header.size() && header[i] == '"') {
        BERTH_TRY(value, quoted_string(header, i));
      } else {
        std::size_t value_start = i;
        while (i < header.size() && header[i] != ',' && header[i] != ' ') ++i;
        value = std::string(header.substr(value_start, i - value_start));
      }
      challenge.params[name] = std::move(value);
    }
    if (challenge.scheme == AuthChallenge::Scheme::bearer && challenge.param("realm").empty()) {
      return fail("a Bearer challenge without a realm");
    }
    return challenge;
  }();
  return with_context(std::move(parsed), fmt::format("WWW-Authenticate '{}'", header));
}

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = ::EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return fail("base64: length is not a multiple of 4");
  std::string out(3 * text.size() / 4, '\0');
  int n = ::EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return fail("base64: not valid base64");
  // EVP_DecodeBlock counts the padding as decoded zero bytes.
  std::size_t size = static_cast<std::size_t>(n);
  for (std::size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) --size;
  out.resize(size);
  return out;
}

Result<std::optional<Credentials>> credentials_from_docker_config(std::string_view config_json,
                                                                  std::string_view registry) {
  boost::system::error_code ec;
  auto value = json::parse(config_json, ec);
  if (ec || !value.is_object()) return fail("Docker config: not a JSON object" + (ec ? ": " + ec.message() : ""));
  const auto* auths = value.as_object().if_contains("auths");
  if (auths == nullptr) return std::optional<Credentials>{};
  if (!auths->is_object()) return fail("Docker config: \"auths\" must be an object");
  for (const auto& [key, entry] : auths->as_object()) {
    if (!names_registry(key, registry)) continue;
    auto where = fmt::format("Docker config: auths[\"{}\"]", std::string_view(key));
    if (!entry.is_object()) return fail(where + " must be an object");
    const auto& object = entry.as_object();
    Credentials credentials;
    if (const auto* auth = object.if_contains("auth"); auth && auth->is_string() && !auth->as_string().empty()) {
      auto decoded = base64_decode(auth->as_string());
      if (!decoded) return fail(where + ".auth: " + decoded.error().message());
      auto colon = decoded->find(':');
      if (colon == std::string::npos) return fail(where + ".auth: expecting base64 of user:password");
      credentials = {decoded->substr(0, colon), decoded->substr(colon + 1)};
    } else {
      const auto* user = object.if_contains("username");
      const auto* password = object.if_contains("password");
      if (!user || !password || !user->is_string() || !password->is_string()) {
        return fail(where + ": neither \"auth\" nor \"username\" and \"password\"");
      }
      credentials = {std::string(user->as_string()), std::string(password->as_string())};
    }
    return std::optional(credentials);
  }
  return std::optional<Credentials>{};
}

Result<std::optional<Credentials>> credentials_from_docker_config_file(const std::filesystem::path& path,
                                                                       std::string_view registry) {
  std::ifstream in(path);
  if (!in) {
    if (!std::filesystem::exists(path)) return std::optional<Credentials>{};
    return fail_sys("open", path);
  }
  std::stringstream text;
  text << in.rdbuf();
  return with_context(credentials_from_docker_config(text.str(), registry), path.string());
}

Result<std::string> token_from_response(std::string_view body) {
  boost::system::error_code ec;
  auto value = json::parse(body, ec);
  if (ec || !value.is_object()) return fail("token server answer: not a JSON object");
  for (const char* key : {"token", "access_token"}) {
    if (const auto* token = value.as_object().if_contains(key); token && token->is_string() && !token->as_string().empty()) {
      return std::string(token->as_string());
    }
  }
  return fail("token server answer: no \"token\" or \"access_token\"");
}

}  // namespace berth::fetcher
