// Pull + unpack of a generated multi-layer image from a local registry
// (Debian's docker-registry on loopback, started here): Berth's Puller into a
// cold store against `skopeo copy` to an OCI layout followed by `umoci
// unpack`, interleaved round by round so that both see the same machine;
// then the same image with zstd layers through Berth.
//
// Run as root (umoci builds the test images with their owners):
//   build/bench/berth_pull_compare [--megabytes 200] [--layers 4] [--rounds 3]

#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "berth/fetcher/puller.hpp"
#include "support/registry.hpp"
#include "support/registry_shell.hpp"
#include "support/temp_dir.hpp"
#include "support/test_images.hpp"

namespace {

namespace fs = std::filesystem;
using namespace berth;
using Clock = std::chrono::steady_clock;

struct Sample {
  double wall_s = 0;
  double cpu_s = 0;  // this process's, for Berth; children's, for skopeo + umoci
};

double cpu_seconds(int who) {
  rusage usage{};
  ::getrusage(who, &usage);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(usage.ru_utime) + s(usage.ru_stime);
}

Sample berth_pull(const std::string& reference, const std::string& registry, int parallel) {
  testing::TempDir dir;
  auto store = fetcher::ImageStore::open(dir.path() / "store");
  auto client = fetcher::RegistryClient::create({.insecure_registries = {registry}});
  if (!store || !client) throw std::runtime_error("cannot set up the store or the client");
  fetcher::Puller puller(*store, **client, {.parallel_layers = parallel});
  auto parsed = fetcher::parse_image_reference(reference);
  if (!parsed) throw std::runtime_error(parsed.error().what());
  auto cpu = cpu_seconds(RUSAGE_SELF);
  auto start = Clock::now();
  auto pulled = puller.pull(*parsed);
  Sample sample{std::chrono::duration<double>(Clock::now() - start).count(), cpu_seconds(RUSAGE_SELF) - cpu};
  if (!pulled) throw std::runtime_error(pulled.error().what());
  return sample;
}

Sample skopeo_umoci(const std::string& registry, const std::string& repository, const std::string& tag) {
  testing::TempDir dir;
  auto cpu = cpu_seconds(RUSAGE_CHILDREN);
  auto start = Clock::now();
  testing::run_tool({"skopeo", "copy", "--src-tls-verify=false", fmt::format("docker://{}/{}:{}", registry, repository, tag),
                     fmt::format("oci:{}:{}", (dir.path() / "layout").string(), tag)},
                    std::chrono::minutes(10));
  testing::run_tool({"umoci", "unpack", "--image", fmt::format("{}:{}", (dir.path() / "layout").string(), tag),
                     (dir.path() / "bundle").string()},
                    std::chrono::minutes(10));
  return {std::chrono::duration<double>(Clock::now() - start).count(), cpu_seconds(RUSAGE_CHILDREN) - cpu};
}

double median(std::vector<double> values) {
  std::ranges::sort(values);
  return values[values.size() / 2];
}

void report(const char* name, const std::vector<Sample>& samples) {
  std::vector<double> wall, cpu;
  for (const auto& s : samples) {
    wall.push_back(s.wall_s);
    cpu.push_back(s.cpu_s);
  }
  std::printf("%-34s median %7.2f s wall (min %.2f, max %.2f), %6.2f s CPU\n", name, median(wall),
              *std::ranges::min_element(wall), *std::ranges::max_element(wall), median(cpu));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Pull + unpack: Berth against skopeo copy + umoci unpack");
  int megabytes = 200, layers = 4, rounds = 3, parallel = 4;
  app.add_option("--megabytes", megabytes, "Size of the generated image (incompressible data)")->capture_default_str();
  app.add_option("--layers", layers, "Layers of the generated image")->capture_default_str();
  app.add_option("--rounds", rounds, "Interleaved rounds")->capture_default_str();
  app.add_option("--parallel", parallel, "Berth's parallel layer downloads")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    testing::TestRegistry registry;
    testing::TestImages images(registry);
    auto total = static_cast<std::uint64_t>(megabytes) << 20;
    std::printf("Generating %d MiB in %d layers (gzip and zstd) ...\n", megabytes, layers);
    auto gzip = images.large({.repository = "large", .tag = "gzip", .total_bytes = total, .layers = layers});
    auto zstd = images.large({.repository = "large", .tag = "zstd", .total_bytes = total, .layers = layers,
                              .compression = testing::LayerCompression::zstd});
    std::vector<Sample> berth_gzip, berth_zstd, peer;
    for (int round = 1; round <= rounds; ++round) {
      berth_gzip.push_back(berth_pull(gzip.reference(), registry.address(), parallel));
      peer.push_back(skopeo_umoci(registry.address(), "large", "gzip"));
      berth_zstd.push_back(berth_pull(zstd.reference(), registry.address(), parallel));
      std::printf("round %d: berth gzip %.2f s, skopeo+umoci gzip %.2f s, berth zstd %.2f s\n", round,
                  berth_gzip.back().wall_s, peer.back().wall_s, berth_zstd.back().wall_s);
    }
    report("berth pull (gzip)", berth_gzip);
    report("skopeo copy + umoci unpack (gzip)", peer);
    report("berth pull (zstd)", berth_zstd);
    std::vector<double> b, p;
    for (const auto& s : berth_gzip) b.push_back(s.wall_s);
    for (const auto& s : peer) p.push_back(s.wall_s);
    std::printf("speed-up over skopeo + umoci (median wall): %.1fx\n", median(p) / median(b));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "berth_pull_compare: %s\n", e.what());
    return 1;
  }
}
