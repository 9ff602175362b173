#include "berth/fetcher/reference.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace berth::fetcher {
namespace {

const std::string kHex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kSha256 = "sha256:" + kHex;
const std::string kHex512 =
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

struct Valid {
  std::string input;
  std::string registry;
  std::string repository;
  std::optional<std::string> tag;
  std::optional<std::string> digest;
  std::string str;
};

const std::string kHub = "registry-1.docker.io";

const Valid kValid[] = {
    // Docker Hub normalization.
    {"alpine", kHub, "library/alpine", "latest", {}, "docker.io/library/alpine:latest"},
    {"alpine:3.19", kHub, "library/alpine", "3.19", {}, "docker.io/library/alpine:3.19"},
    {"library/alpine", kHub, "library/alpine", "latest", {}, "docker.io/library/alpine:latest"},
    {"docker.io/alpine", kHub, "library/alpine", "latest", {}, "docker.io/library/alpine:latest"},
    {"docker.io/library/alpine:edge", kHub, "library/alpine", "edge", {}, "docker.io/library/alpine:edge"},
    {"index.docker.io/alpine", kHub, "library/alpine", "latest", {}, "docker.io/library/alpine:latest"},
    {"registry-1.docker.io/alpine", kHub, "library/alpine", "latest", {}, "docker.io/library/alpine:latest"},
    {"user/app", kHub, "user/app", "latest", {}, "docker.io/user/app:latest"},
    {"docker.io/user/app/sub:v1", kHub, "user/app/sub", "v1", {}, "docker.io/user/app/sub:v1"},
    // Other registries: no library/ prefix, port and IPv6 allowed.
    {"ghcr.io/org/app:1.2.3", "ghcr.io", "org/app", "1.2.3", {}, "ghcr.io/org/app:1.2.3"},
    {"localhost/foo", "localhost", "foo", "latest", {}, "localhost/foo:latest"},
    {"localhost:5000/foo/bar:1.0", "localhost:5000", "foo/bar", "1.0", {}, "localhost:5000/foo/bar:1.0"},
    {"[::1]:5000/x", "[::1]:5000", "x", "latest", {}, "[::1]:5000/x:latest"},
    {"[2001:db8::1]/team/app", "[2001:db8::1]", "team/app", "latest", {}, "[2001:db8::1]/team/app:latest"},
    {"192.168.1.10:5000/app", "192.168.1.10:5000", "app", "latest", {}, "192.168.1.10:5000/app:latest"},
    {"Registry.Example.COM/app", "Registry.Example.COM", "app", "latest", {}, "Registry.Example.COM/app:latest"},
    {"my-registry.example.com:443/a/b", "my-registry.example.com:443", "a/b", "latest", {},
     "my-registry.example.com:443/a/b:latest"},
    // Digest pins: no default tag; tag and digest together keep both.
    {"alpine@" + kSha256, kHub, "library/alpine", {}, kSha256, "docker.io/library/alpine@" + kSha256},
    {"alpine:3.19@" + kSha256, kHub, "library/alpine", "3.19", kSha256,
     "docker.io/library/alpine:3.19@" + kSha256},
    {"localhost:5000/x@" + kSha256, "localhost:5000", "x", {}, kSha256, "localhost:5000/x@" + kSha256},
    {"example.com/foo@sha512:" + kHex512, "example.com", "foo", {}, "sha512:" + kHex512,
     "example.com/foo@sha512:" + kHex512},
    // Every separator the grammar allows, digits-only components, tag alphabet.
    {"a/b.c/d_e/f__g/h-i/j---k", kHub, "a/b.c/d_e/f__g/h-i/j---k", "latest", {},
     "docker.io/a/b.c/d_e/f__g/h-i/j---k:latest"},
    {"0/1", kHub, "0/1", "latest", {}, "docker.io/0/1:latest"},
    {"foo:V1_2-rc.3", kHub, "library/foo", "V1_2-rc.3", {}, "docker.io/library/foo:V1_2-rc.3"},
    {"foo:_x", kHub, "library/foo", "_x", {}, "docker.io/library/foo:_x"},
    {"foo:" + std::string(128, 't'), kHub, "library/foo", std::string(128, 't'), {},
     "docker.io/library/foo:" + std::string(128, 't')},
    // "docker.io/library/" is 18 characters; the whole name may be 255.
    {std::string(237, 'a'), kHub, "library/" + std::string(237, 'a'), "latest", {},
     "docker.io/library/" + std::string(237, 'a') + ":latest"},
};

TEST(ParseImageReference, ValidReferencesNormalize) {
  for (const auto& c : kValid) {
    SCOPED_TRACE(c.input);
    auto ref = parse_image_reference(c.input);
    ASSERT_TRUE(ref.has_value()) << ref.error().what();
    EXPECT_EQ(ref->registry, c.registry);
    EXPECT_EQ(ref->repository, c.repository);
    EXPECT_EQ(ref->tag, c.tag);
    EXPECT_EQ(ref->digest.transform(&Digest::str), c.digest);
    EXPECT_EQ(ref->str(), c.str);
  }
}

TEST(ParseImageReference, StrParsesBackToAnEqualReference) {
  for (const auto& c : kValid) {
    SCOPED_TRACE(c.input);
    auto ref = parse_image_reference(c.input);
    ASSERT_TRUE(ref.has_value()) << ref.error().what();
    auto again = parse_image_reference(ref->str());
    ASSERT_TRUE(again.has_value()) << again.error().what();
    EXPECT_EQ(*again, *ref);
  }
}

TEST(ParseImageReference, DockerHubDomainIsDisplayedAsDockerIo) {
  auto hub = parse_image_reference("busybox");
  ASSERT_TRUE(hub.has_value());
  EXPECT_EQ(hub->domain(), "docker.io");
  auto other = parse_image_reference("quay.io/coreos/etcd");
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->domain(), "quay.io");
}

struct Invalid {
  std::string input;
  std::string reason;  // a piece of the expected error message
};

const Invalid kInvalid[] = {
    {"", "empty"},
    // Case: repositories are lowercase, only domains and tags may not be.
    {"Alpine", "repository name must be lowercase"},
    {"user/App:1.0", "repository name must be lowercase"},
    {"ghcr.io/Org/app", "repository name must be lowercase"},
    // Length.
    {std::string(238, 'a'), "name is 256 characters, more than 255"},
    {"example.com/" + std::string(300, 'b'), "more than 255"},
    // Tags.
    {"foo:", "empty tag"},
    {"foo:-bad", "tag must start with [A-Za-z0-9_]"},
    {"foo:.bad", "tag must start with [A-Za-z0-9_]"},
    {"foo:" + std::string(129, 't'), "tag is 129 characters, more than 128"},
    {"foo:bad!tag", "invalid character '!' in tag"},
    // A colon before a '/' makes a domain with a port, not a tag.
    {"foo:bad/tag", "port 'bad' is not a number"},
    // Digests.
    {"foo@", "expected <algorithm>:<hex>"},
    {"foo@sha256:abc", "needs 64 hex characters, got 3"},
    {"foo@md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported digest algorithm 'md5'"},
    {"foo@sha256:" + std::string(64, 'A'), "must be lowercase"},
    {"foo@" + kSha256 + "@" + kSha256, "needs 64 hex characters"},
    {"foo:1.0@" + kHex, "expected <algorithm>:<hex>"},
    // Characters.
    {"foo bar", "invalid character 0x20"},
    {"foo$", "invalid character '$'"},
    {std::string("fo\x01o"), "invalid character 0x01"},
    {"foo:bar:baz", "invalid character ':'"},
    {"ghcr.io/caf\xc3\xa9", "invalid character 0xc3"},
    // Separators.
    {"/foo", "leading '/'"},
    {"foo/", "trailing '/'"},
    {"foo//bar", "empty path component"},
    {"ghcr.io/", "missing repository name"},
    {":latest", "missing repository name"},
    {"@" + kSha256, "missing repository name"},
    {"-foo", "path component '-foo' starts with a separator"},
    {"foo_", "path component 'foo_' ends with a separator"},
    {"foo/.bar", "starts with a separator"},
    {"foo..bar", "invalid separator '..'"},
    {"foo___bar", "invalid separator '___'"},
    {"foo._bar", "invalid separator '._'"},
    {"foo-_bar", "invalid separator '-_'"},
    // Domains.
    {"localhost:/foo", "empty port"},
    {"localhost:abc/foo", "port 'abc' is not a number"},
    {"-bad.com/foo", "starts or ends with '-'"},
    {"bad-.com/foo", "starts or ends with '-'"},
    {"bad..com/foo", "empty component between '.'"},
    {"bad_host.com/foo", "invalid character '_'"},
    {"[::1/foo", "'[' without ']'"},
    {"[]:5000/foo", "empty IPv6 address"},
    {"[::g]/foo", "invalid character 'g' in IPv6 address"},
    {"[::1]x/foo", "unexpected 'x' after ']'"},
    // A bare image ID is ambiguous with a local image.
    {kHex, "image ID"},
};

TEST(ParseImageReference, InvalidReferencesAreRefusedWithReason) {
  for (const auto& c : kInvalid) {
    SCOPED_TRACE(c.input);
    auto ref = parse_image_reference(c.input);
    ASSERT_FALSE(ref.has_value()) << ref->str();
    const std::string& message = ref.error().message();
    EXPECT_TRUE(message.starts_with("invalid image reference '" + c.input + "': ")) << message;
    EXPECT_NE(message.find(c.reason), std::string::npos) << message;
  }
}

TEST(ParseImageReference, ErrorNamesThePartAtFault) {
  auto domain = parse_image_reference("bad..com/foo");
  ASSERT_FALSE(domain.has_value());
  EXPECT_NE(domain.error().message().find("domain 'bad..com'"), std::string::npos) << domain.error().message();

  auto repository = parse_image_reference("ghcr.io/a//b");
  ASSERT_FALSE(repository.has_value());
  EXPECT_NE(repository.error().message().find("repository 'a//b'"), std::string::npos)
      << repository.error().message();

  auto digest = parse_image_reference("foo@d@" + kSha256);
  ASSERT_FALSE(digest.has_value());
  EXPECT_NE(digest.error().message().find("invalid digest 'd@" + kSha256 + "'"), std::string::npos)
      << digest.error().message();
}

}  // namespace
}  // namespace berth::fetcher
