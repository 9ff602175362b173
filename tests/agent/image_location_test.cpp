#include "berth/agent/image_location.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.hpp"

namespace berth::agent {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string resolved(std::string_view name, const DockerRegistryFlag& flag) {
  auto location = resolve_task_image(name, flag);
  if (!location) return "error: " + location.error().what();
  return fetcher::to_string(*location);
}

TEST(DockerRegistryFlag, TakesARegistryOrAnAbsoluteDirectory) {
  EXPECT_EQ(std::get<DefaultRegistry>(parse_docker_registry_flag("").value()).host, "");
  auto mirror = std::get<DefaultRegistry>(parse_docker_registry_flag("https://mirror.local:5000/").value());
  EXPECT_EQ(mirror.host, "mirror.local:5000");
  EXPECT_FALSE(mirror.insecure);
  auto plain = std::get<DefaultRegistry>(parse_docker_registry_flag("http://10.0.0.1:5000").value());
  EXPECT_EQ(plain.host, "10.0.0.1:5000");
  EXPECT_TRUE(plain.insecure);
  EXPECT_EQ(std::get<DefaultRegistry>(parse_docker_registry_flag("registry.local").value()).host, "registry.local");

  berth::testing::TempDir dir;
  auto archives = parse_docker_registry_flag(dir.path().string() + "/.");
  ASSERT_TRUE(archives) << archives.error().what();
  EXPECT_EQ(std::get<ArchiveDirectory>(*archives).dir, dir.path());

  EXPECT_THAT(parse_docker_registry_flag("/no/such/dir").error().what(),
              HasSubstr("--docker_registry /no/such/dir: not a directory"));
  EXPECT_THAT(parse_docker_registry_flag("hdfs://namenode/images").error().what(),
              HasSubstr("only http:// and https://"));
  EXPECT_THAT(parse_docker_registry_flag("https://host/with/path").error().what(),
              HasSubstr("not a registry host[:port], URL or absolute directory"));
  EXPECT_THAT(parse_docker_registry_flag("Bad Host").error().what(), HasSubstr("not a registry"));
}

TEST(TaskImageLocation, NamesWithoutADomainGoToTheDefaultRegistry) {
  DockerRegistryFlag hub = DefaultRegistry{};
  EXPECT_EQ(resolved("busybox", hub), "docker.io/library/busybox:latest");
  DockerRegistryFlag mirror = DefaultRegistry{"mirror.local:5000", false};
  EXPECT_EQ(resolved("busybox:1.36", mirror), "mirror.local:5000/library/busybox:1.36");
  EXPECT_EQ(resolved("team/app", mirror), "mirror.local:5000/team/app:latest");
  EXPECT_EQ(resolved("other.local/app:2", mirror), "other.local/app:2") << "a name's own domain wins";
  EXPECT_EQ(resolved("docker.io/library/busybox", mirror), "docker.io/library/busybox:latest");
  EXPECT_EQ(resolved("localhost/app", mirror), "localhost/app:latest");
  EXPECT_THAT(resolved("UPPER", hub), HasSubstr("error: image"));
}

TEST(TaskImageLocation, AnArchiveDirectoryHoldsDockerSaveTarsByRepositoryAndTag) {
  berth::testing::TempDir dir;
  std::ofstream(dir / "busybox:latest.tar") << "tar";
  fs::create_directories(dir / "library");
  std::ofstream(dir / "library/alpine:3.19.tar") << "tar";
  DockerRegistryFlag archives = ArchiveDirectory{dir.path()};

  EXPECT_EQ(resolved("busybox", archives), "docker-archive:" + (dir / "busybox:latest.tar").string());
  EXPECT_EQ(resolved("alpine:3.19", archives), "docker-archive:" + (dir / "library/alpine:3.19.tar").string());
  EXPECT_THAT(resolved("busybox:1.0", archives),
              HasSubstr("no archive busybox:1.0.tar in --docker_registry " + dir.path().string()));
  EXPECT_THAT(resolved("busybox@sha256:" + std::string(64, 'a'), archives), HasSubstr("not by digest"));
  EXPECT_EQ(resolved("127.0.0.1:5000/app:1", archives), "127.0.0.1:5000/app:1") << "a registry named outright";

  // An archive that is a symlink out of the directory is not one of its images.
  berth::testing::TempDir elsewhere;
  std::ofstream(elsewhere / "secret.tar") << "tar";
  fs::create_symlink(elsewhere / "secret.tar", dir / "escape:latest.tar");
  EXPECT_THAT(resolved("escape", archives), HasSubstr("no archive escape:latest.tar"));
}

TEST(TaskImageLocation, LocalImagesAreReadOnlyFromInsideTheArchiveDirectory) {
  berth::testing::TempDir dir;
  fs::create_directories(dir / "layouts/app");
  DockerRegistryFlag archives = ArchiveDirectory{dir.path()};
  auto layout = "oci:" + (dir / "layouts/app").string() + ":1.0";
  EXPECT_EQ(resolved(layout, archives), layout);
  EXPECT_EQ(resolved("oci-archive:" + (dir / "app.tar").string(), archives),
            "oci-archive:" + (dir / "app.tar").string());

  EXPECT_THAT(resolved("docker-archive:/etc/shadow", archives),
              HasSubstr("/etc/shadow is outside --docker_registry " + dir.path().string()));
  EXPECT_THAT(resolved("oci:" + (dir / "layouts/../../x").string(), archives), HasSubstr("is outside"));
  fs::create_directory_symlink("/etc", dir / "etc-link");
  EXPECT_THAT(resolved("oci:" + (dir / "etc-link").string(), archives), HasSubstr("is outside"));
  EXPECT_THAT(resolved("oci:" + dir.path().string(), archives), HasSubstr("is outside"))
      << "the directory itself is not an image in it";
  EXPECT_THAT(resolved(layout, DefaultRegistry{}), HasSubstr("this agent has none"));
}

}  // namespace
}  // namespace berth::agent
