#pragma once
// Test images built offline and pushed to a TestRegistry, with everything a
// fetcher test needs to check its work: the manifest digest and media type as
// the registry serves them, the layers, the image config, and the files the
// unpacked root filesystem must (and must not) contain.
//
// TestImageLayout builds, once per test process and as root (umoci keeps file
// ownership), an OCI layout with umoci from busybox-static:
//   busybox          1 layer: /bin/busybox and sh/true/echo/sleep/cat/ls symlinks,
//                    /home/berth (1000:1000), /tmp (1777); Entrypoint/Cmd/Env/
//                    WorkingDir/User/ExposedPorts set (kBusyboxConfig)
//   layered          busybox + 3 layers: files; a deletion (umoci writes
//                    data/.wh.remove-me.txt); /opaque replaced (opaque/.wh..wh..opq,
//                    a layer written with GNU tar: umoci 0.4.7's `insert` leaves
//                    its tars unterminated, and its repack never writes opaque markers)
//   multiarch-amd64, multiarch-arm64   busybox + /etc/berth-arch naming the architecture
//   multiarch        an OCI image index of those two
//   escape           busybox + /bin/escape_probe (static), User root: the escape
//                    suite from inside an image container
// TestImages pushes them with skopeo, as Docker schema2 (tag "docker") or OCI
// (tag "oci"), and generates large random images on demand.
//
// What real images do too, and a fetcher must take: umoci's layers start with
// a "." entry; umoci's OCI manifests carry no "mediaType" field (optional in
// image-spec 1.0; the registry's Content-Type names the type), the large
// images' manifests do; the layer blobs of the two formats are the same bytes.
//
//   TestRegistry registry;
//   TestImages images(registry);
//   const TestImage& image = images.busybox(ManifestFormat::oci);
//   fetch(image.reference()); EXPECT_THAT(compare_rootfs(rootfs, image.rootfs), IsEmpty());

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/registry.hpp"
#include "support/test_images_oci_layout.hpp"

namespace berth::testing {

enum class ManifestFormat {
  docker,  // Docker image manifest v2 schema 2 / manifest list (skopeo --format v2s2)
  oci,     // OCI image manifest / image index
};

struct ExpectedFile {
  enum class Type { regular, directory, symlink };
  std::string path{};  // absolute inside the rootfs: "/bin/sh"
  Type type = Type::regular;
  std::string content{};      // regular files of at most 4 KiB: the exact bytes
  std::string sha256{};       // regular files: "sha256:<hex>" of the content
  std::uint64_t size = 0;     // regular files
  std::string link_target{};  // symlinks
  std::uint32_t mode = 0;   // permission bits with setuid/setgid/sticky; not checked for symlinks
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
};

enum class OtherFiles { forbidden, allowed };

struct ExpectedRootfs {
  std::vector<ExpectedFile> present{};
  std::vector<std::string> absent{};  // deleted by whiteouts of later layers
  OtherFiles others = OtherFiles::forbidden;  // `present` lists every entry
};

// How a flattened rootfs on disk differs from the expectation, one line per
// difference; empty when it matches.
std::vector<std::string> compare_rootfs(const std::filesystem::path& rootfs, const ExpectedRootfs& expected);

ExpectedFile expected_regular(std::string path, std::string content, std::uint32_t mode = 0644);
// A regular file with the size, digest and mode of `source` (for big files).
ExpectedFile expected_copy_of(std::string path, const std::filesystem::path& source);
ExpectedFile expected_directory(std::string path, std::uint32_t mode = 0755);
ExpectedFile expected_symlink(std::string path, std::string target);
ExpectedFile owned_by(ExpectedFile file, std::uint32_t uid, std::uint32_t gid);
// Creates `file` under `root` as described (contents of expected_copy_of files are copied from `source`).
void stage(const std::filesystem::path& root, const ExpectedFile& file, const std::filesystem::path& source = {});

struct ExpectedConfig {
  std::string architecture{};
  std::string os{};
  std::vector<std::string> entrypoint{};
  std::vector<std::string> cmd{};
  std::vector<std::string> env{};
  std::string working_dir{};
  std::string user{};
  std::vector<std::string> exposed_ports{};  // "8080/tcp"
};

// An image as the registry serves it, plus what it must unpack to.
struct TestImage {
  std::string registry;         // "127.0.0.1:PORT"
  std::string repository;       // "busybox"
  std::string tag;              // "oci", "docker"; empty for the platform images of an index
  std::string manifest_digest;  // Docker-Content-Digest, checked against the bytes
  std::string media_type;       // of the manifest, or of the index / manifest list
  std::string manifest;         // the bytes served
  std::string config_digest;    // single-platform images only
  std::vector<OciDescriptor> layers;  // as the manifest lists them, base first
  ExpectedConfig config;        // single-platform images, and each entry of an index
  ExpectedRootfs rootfs;        // single-platform images, and each entry of an index
  std::vector<TestImage> platforms;  // index / manifest list: one per entry, in order

  std::string reference() const;         // "127.0.0.1:PORT/busybox:oci"
  std::string digest_reference() const;  // "127.0.0.1:PORT/busybox@sha256:..."
  std::vector<std::string> layer_digests() const;
  bool is_index() const { return !platforms.empty(); }
  const TestImage& platform(std::string_view architecture) const;  // throws if absent
};

ExpectedConfig busybox_config();  // the config of "busybox" (and, with another Cmd, "layered")

// The OCI layout the test images are built in. Built once per process.
class TestImageLayout {
 public:
  static std::shared_ptr<const TestImageLayout> shared();
  ~TestImageLayout();
  TestImageLayout(const TestImageLayout&) = delete;
  TestImageLayout& operator=(const TestImageLayout&) = delete;

  // The layout, for skopeo's oci:DIR:TAG, umoci, or a test that wants a real layer tarball.
  std::filesystem::path dir() const { return dir_ / "layout"; }
  OciLayout layout() const { return OciLayout(dir()); }
  const ExpectedRootfs& rootfs(std::string_view tag) const;
  const ExpectedConfig& config(std::string_view tag) const;

 private:
  TestImageLayout();
  void build();
  void build_busybox();
  void build_layered();
  void build_multiarch();
  void build_escape();

  std::filesystem::path dir_;
  std::map<std::string, ExpectedRootfs, std::less<>> rootfs_;
  std::map<std::string, ExpectedConfig, std::less<>> config_;
};

struct LargeImageRequest {
  std::string repository = "large";
  std::string tag = "latest";
  std::uint64_t total_bytes = 200ull << 20;
  int layers = 4;
  LayerCompression compression = LayerCompression::gzip;
  ManifestFormat format = ManifestFormat::oci;  // zstd needs oci
  std::uint64_t seed = 1;                       // the same seed gives the same bytes
  bool on_busybox = false;  // the busybox image's layer and config first: an image a task can run
};

class TestImages {
 public:
  explicit TestImages(TestRegistry& registry);

  // Pushed on first use; repository "busybox", "layered", "multiarch"; tag "docker" or "oci".
  const TestImage& busybox(ManifestFormat format);
  const TestImage& layered(ManifestFormat format);
  const TestImage& multi_arch(ManifestFormat format);
  // busybox + /bin/escape_probe (tests/e2e/escape_probe), run as root.
  const TestImage& escape(ManifestFormat format);
  // N layers of incompressible data totalling `total_bytes` (one file per layer
  // under /large), built and pushed anew at each call; its build files are
  // removed. With on_busybox, they go on top of busybox (its rootfs then lists
  // only the large files, and allows others).
  TestImage large(const LargeImageRequest& request);

  // What the registry serves for repository:reference (a tag or a digest).
  TestImage describe(std::string_view repository, std::string_view reference) const;
  const TestImageLayout& layout() const { return *layout_; }

 private:
  const TestImage& pushed(std::string_view layout_tag, std::string_view repository, ManifestFormat format);
  // skopeo copy (--all for an index); returns the digest skopeo reports.
  std::string push(const std::filesystem::path& layout_dir, std::string_view layout_tag, std::string_view repository,
                   std::string_view tag, ManifestFormat format) const;

  TestRegistry& registry_;
  std::shared_ptr<const TestImageLayout> layout_;
  std::map<std::pair<std::string, ManifestFormat>, TestImage> pushed_;
};

}  // namespace berth::testing
