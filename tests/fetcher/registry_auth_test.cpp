#include "berth/fetcher/registry_auth.hpp"

#include <gtest/gtest.h>

namespace berth::fetcher {
namespace {

TEST(AuthChallenge, BearerWithAScopeHoldingCommas) {
  auto challenge = parse_auth_challenge(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push")");
  ASSERT_TRUE(challenge) << challenge.error().what();
  EXPECT_EQ(challenge->scheme, AuthChallenge::Scheme::bearer);
  EXPECT_EQ(challenge->param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(challenge->param("service"), "registry.docker.io");
  EXPECT_EQ(challenge->param("scope"), "repository:samalba/my-app:pull,push");
  EXPECT_EQ(challenge->param("error"), "");
}

TEST(AuthChallenge, TokensEscapesSpacesAndCase) {
  auto challenge = parse_auth_challenge(R"(  bearer Realm = "http://a/t\"x" , service=reg ,error="insufficient_scope")");
  ASSERT_TRUE(challenge) << challenge.error().what();
  EXPECT_EQ(challenge->param("realm"), "http://a/t\"x");
  EXPECT_EQ(challenge->param("service"), "reg");
  EXPECT_EQ(challenge->param("error"), "insufficient_scope");
  auto basic = parse_auth_challenge(R"(Basic realm="Registry Realm")");
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->scheme, AuthChallenge::Scheme::basic);
  EXPECT_EQ(basic->param("realm"), "Registry Realm");
}

TEST(AuthChallenge, BadHeadersAreRefused) {
  EXPECT_FALSE(parse_auth_challenge("Negotiate abc"));
  EXPECT_FALSE(parse_auth_challenge(R"(Bearer service="x")"));
  auto unterminated = parse_auth_challenge(R"(Bearer realm="http://a)");
  ASSERT_FALSE(unterminated);
  EXPECT_NE(unterminated.error().message().find("unterminated"), std::string::npos);
}

TEST(DockerConfig, CredentialsByRegistryName) {
  std::string config = R"({"auths": {
    "https://index.docker.io/v1/": {"auth": ")" + base64_encode("hubuser:hub:pass") + R"("},
    "127.0.0.1:5000": {"auth": ")" + base64_encode("local:secret") + R"("},
    "https://ghcr.io": {"username": "gh", "password": "tok"}}})";
  auto hub = credentials_from_docker_config(config, "registry-1.docker.io");
  ASSERT_TRUE(hub) << hub.error().what();
  ASSERT_TRUE(hub->has_value());
  EXPECT_EQ(**hub, (Credentials{"hubuser", "hub:pass"}));
  auto local = credentials_from_docker_config(config, "127.0.0.1:5000");
  ASSERT_TRUE(local && local->has_value());
  EXPECT_EQ(**local, (Credentials{"local", "secret"}));
  auto gh = credentials_from_docker_config(config, "GHCR.io");
  ASSERT_TRUE(gh && gh->has_value());
  EXPECT_EQ(**gh, (Credentials{"gh", "tok"}));
  auto none = credentials_from_docker_config(config, "127.0.0.1:5001");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  auto empty = credentials_from_docker_config("{}", "x");
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->has_value());
}

TEST(DockerConfig, MalformedEntriesAreNamed) {
  auto bad = credentials_from_docker_config(R"({"auths": {"h": {"auth": "bm9jb2xvbg=="}}})", "h");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "Docker config: auths[\"h\"].auth: expecting base64 of user:password");
  auto not_base64 = credentials_from_docker_config(R"({"auths": {"h": {"auth": "!!!"}}})", "h");
  ASSERT_FALSE(not_base64);
  EXPECT_FALSE(credentials_from_docker_config("[1]", "h"));
  auto missing = credentials_from_docker_config_file("/nonexistent/config.json", "h");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
}

TEST(TokenResponse, TokenOrAccessToken) {
  EXPECT_EQ(token_from_response(R"({"token": "abc", "expires_in": 300})").value(), "abc");
  EXPECT_EQ(token_from_response(R"({"access_token": "xyz"})").value(), "xyz");
  EXPECT_FALSE(token_from_response(R"({"token": ""})"));
  EXPECT_FALSE(token_from_response("nope"));
}

TEST(Base64, RoundTripsAndRefusesGarbage) {
  for (std::string text : {"", "a", "ab", "abc", "abcd", "user:pa:ss"}) {
    auto decoded = base64_decode(base64_encode(text));
    ASSERT_TRUE(decoded) << text;
    EXPECT_EQ(*decoded, text);
  }
  EXPECT_EQ(base64_encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_FALSE(base64_decode("abc"));
}

}  // namespace
}  // namespace berth::fetcher
