#include "berth/fetcher/registry_client.hpp"

#include <gtest/gtest.h>

namespace berth::fetcher {
namespace {

TEST(RegistryClient, UrlsAreHttpsUnlessTheRegistryIsListedInsecure) {
  auto reference = parse_image_reference("127.0.0.1:5000/team/app:1.0");
  ASSERT_TRUE(reference);
  RegistryOptions secure;
  EXPECT_EQ(registry_url(secure, *reference, "manifests", "1.0"), "https://127.0.0.1:5000/v2/team/app/manifests/1.0");
  RegistryOptions insecure{.insecure_registries = {"127.0.0.1:5000"}};
  EXPECT_EQ(registry_url(insecure, *reference, "blobs", "sha256:ab"), "http://127.0.0.1:5000/v2/team/app/blobs/sha256:ab");
  auto hub = parse_image_reference("busybox");
  ASSERT_TRUE(hub);
  EXPECT_EQ(registry_url(secure, *hub, "manifests", "latest"),
            "https://registry-1.docker.io/v2/library/busybox/manifests/latest");
}

TEST(RegistryClient, RegistryErrorBodiesAreSummarized) {
  EXPECT_EQ(registry_error_message(R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]})"),
            "MANIFEST_UNKNOWN: manifest unknown");
  EXPECT_EQ(registry_error_message(R"({"errors":[{"code":"DENIED"},{"code":"UNAUTHORIZED","message":"x"}]})"),
            "DENIED; UNAUTHORIZED: x");
  EXPECT_EQ(registry_error_message("<html>oops</html>"), "");
  EXPECT_EQ(registry_error_message(R"({"other": 1})"), "");
}

TEST(RegistryClient, OptionsAreChecked) {
  auto missing_ca = RegistryClient::create({.ca_file = "/nonexistent/ca.pem"});
  ASSERT_FALSE(missing_ca);
  EXPECT_NE(missing_ca.error().what().find("/nonexistent/ca.pem"), std::string::npos);
  auto no_attempts = RegistryClient::create({.attempts = 0});
  ASSERT_FALSE(no_attempts);
  EXPECT_EQ(no_attempts.error().message(), "registry client: attempts must be at least 1");
}

}  // namespace
}  // namespace berth::fetcher
