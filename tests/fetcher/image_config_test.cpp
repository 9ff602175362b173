#include "berth/fetcher/image_config.hpp"

#include <gtest/gtest.h>

namespace berth::fetcher {
namespace {

const std::string kDiff = "sha256:" + std::string(64, 'd');

TEST(ImageConfig, RunDefaultsAndDiffIds) {
  auto config = parse_image_config(R"({"architecture": "amd64", "os": "linux",
    "config": {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hi"], "Env": ["PATH=/bin", "A=b=c"],
               "WorkingDir": "/srv", "User": "1000:1000", "ExposedPorts": {"80/tcp": {}, "53/udp": {}}},
    "rootfs": {"type": "layers", "diff_ids": [")" + kDiff + R"("]}})");
  ASSERT_TRUE(config) << config.error().what();
  EXPECT_EQ(config->os, "linux");
  EXPECT_EQ(config->architecture, "amd64");
  EXPECT_EQ(config->entrypoint, (std::vector<std::string>{"/bin/sh", "-c"}));
  EXPECT_EQ(config->cmd, (std::vector<std::string>{"echo hi"}));
  EXPECT_EQ(config->env, (std::vector<std::string>{"PATH=/bin", "A=b=c"}));
  EXPECT_EQ(config->working_dir, "/srv");
  EXPECT_EQ(config->user, "1000:1000");
  EXPECT_EQ(config->exposed_ports, (std::vector<std::string>{"80/tcp", "53/udp"}));
  ASSERT_EQ(config->diff_ids.size(), 1u);
  EXPECT_EQ(config->diff_ids[0].str(), kDiff);
}

TEST(ImageConfig, DockerNullsAreEmpty) {
  auto config = parse_image_config(
      R"({"config": {"Entrypoint": null, "Cmd": null, "Env": null, "ExposedPorts": null},
          "rootfs": {"type": "layers", "diff_ids": []}})");
  ASSERT_TRUE(config) << config.error().what();
  EXPECT_TRUE(config->entrypoint.empty());
  EXPECT_TRUE(config->diff_ids.empty());
}

TEST(ImageConfig, BadFieldsAreNamed) {
  auto error = [](const std::string& text) {
    auto config = parse_image_config(text);
    return config ? std::string("parsed") : config.error().message();
  };
  EXPECT_EQ(error("[]"), "image config: not a JSON object");
  EXPECT_EQ(error(R"({"config": {"Cmd": "echo"}, "rootfs": {"type": "layers", "diff_ids": []}})"),
            "image config: config.Cmd must be an array of strings");
  EXPECT_EQ(error(R"({})"), "image config: rootfs is missing");
  EXPECT_EQ(error(R"({"rootfs": {"type": "squash"}})"), "image config: rootfs.type is \"squash\", not \"layers\"");
  EXPECT_NE(error(R"({"rootfs": {"type": "layers", "diff_ids": ["md5:00"]}})").find("rootfs.diff_ids[0]"),
            std::string::npos);
}

}  // namespace
}  // namespace berth::fetcher
