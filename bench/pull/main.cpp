// Pull + unpack of a generated multi-layer image from a local registry
// (Debian's docker-registry on loopback, started here): Berth's Puller into a
// cold store against `skopeo copy` to an OCI layout followed by `umoci
// unpack`, interleaved round by round so that both see the same machine;
// then the same image with zstd layers through Berth.
//
// By default the layers hold random (incompressible) data, so gzip and zstd
// only differ in their framing. --compressible fills them instead with
// text-like log lines (a skewed vocabulary of generated words plus a random
// hex id per line: gzip -1 and zstd -1 take them to about a third), generated
// deterministically, the gzip and zstd images holding the same bytes.
//
// Run as root (umoci builds the test images with their owners):
//   build/bench/berth_pull_compare [--megabytes 200] [--layers 4] [--rounds 3] [--compressible]

#include <sys/resource.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "berth/fetcher/puller.hpp"
#include "support/registry.hpp"
#include "support/registry_shell.hpp"
#include "support/temp_dir.hpp"
#include "support/test_images.hpp"
#include "support/test_images_oci_layout.hpp"

namespace {

namespace fs = std::filesystem;
using namespace berth;
using Clock = std::chrono::steady_clock;

struct Sample {
  double wall_s = 0;
  double cpu_s = 0;  // this process's, for Berth; children's, for skopeo + umoci
};

// splitmix64, as the harness's random layers use.
struct SplitMix {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

// `size` bytes of log-like text, the same for the same seed: a timestamp, a
// level, 4-15 words (three picks in four from the 64 most common of 4096
// generated words) and a random 8-digit hex id per line.
void write_compressible(const fs::path& file, std::uint64_t size, std::uint64_t seed) {
  SplitMix rng{seed * 0x9E3779B97F4A7C15ull + 1};
  std::vector<std::string> words(4096);
  for (auto& word : words) {
    auto length = 2 + rng.next() % 9;
    for (std::uint64_t i = 0; i < length; ++i) word += static_cast<char>('a' + rng.next() % 26);
  }
  static constexpr const char* kLevels[] = {"INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"};
  static constexpr char kHex[] = "0123456789abcdef";
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  std::string chunk;
  std::uint64_t line = 0;
  while (size > 0) {
    chunk.clear();
    while (chunk.size() < (1u << 20)) {
      chunk += fmt::format("2026-01-01T{:02}:{:02}:{:02}.{:03} {} ", line / 3600000 % 24, line / 60000 % 60,
                           line / 1000 % 60, line % 1000, kLevels[rng.next() % 6]);
      auto count = 4 + rng.next() % 12;
      for (std::uint64_t i = 0; i < count; ++i) {
        auto r = rng.next();
        chunk += words[(r & 3) != 0 ? (r >> 2) % 64 : (r >> 2) % words.size()];
        chunk += ' ';
      }
      chunk += "id=";
      auto id = rng.next();
      for (int i = 0; i < 8; ++i) chunk += kHex[(id >> (4 * i)) & 15];
      chunk += '\n';
      ++line;
    }
    auto n = std::min<std::uint64_t>(size, chunk.size());
    out.write(chunk.data(), static_cast<std::streamsize>(n));
    size -= n;
  }
  if (!out.flush()) throw std::runtime_error("cannot write " + file.string());
}

// TestImages::large with write_compressible for the data: `layers` layers,
// one file each under /large, tarred as the harness does, compressed with
// its compress_layer (gzip -1 -n or zstd -1), pushed as OCI with skopeo.
testing::TestImage compressible_image(testing::TestRegistry& registry, testing::TestImages& images,
                                      const std::string& repository, const std::string& tag,
                                      std::uint64_t total_bytes, int layers, testing::LayerCompression compression) {
  testing::TempDir work;
  testing::OciLayout layout(work / "layout");
  std::vector<testing::LayerBlob> blobs;
  auto count = static_cast<std::uint64_t>(layers);
  for (std::uint64_t i = 0; i < count; ++i) {
    auto name = "large/layer-" + std::to_string(i) + ".txt";
    auto staging = work / ("stage-" + std::to_string(i));
    fs::create_directories(staging / "large");
    ::chmod((staging / "large").c_str(), 0755);
    auto size = total_bytes / count + (i + 1 == count ? total_bytes % count : 0);
    write_compressible(staging / name, size, 1000 + i);
    ::chmod((staging / name).c_str(), 0644);
    auto tar = work / ("layer-" + std::to_string(i) + ".tar");
    testing::run_tool({"tar", "--create", "--file", tar.string(), "--directory", staging.string(), "--no-recursion",
                       "--numeric-owner", "--owner=0", "--group=0", "--mtime=@1577836800", "large", name});
    fs::remove_all(staging);
    blobs.push_back(testing::compress_layer(tar, compression));
  }
  boost::json::object config{{"architecture", "amd64"}, {"os", "linux"}, {"config", boost::json::object{}}};
  layout.write_image("large", config, blobs);
  std::vector<std::string> argv{"skopeo", "copy", "--quiet", "--format", "oci"};
  for (auto& flag : registry.skopeo_destination_flags()) argv.push_back(std::move(flag));
  argv.push_back("oci:" + layout.dir().string() + ":large");
  argv.push_back(fmt::format("docker://{}/{}:{}", registry.address(), repository, tag));
  testing::run_tool(argv, std::chrono::minutes(10));
  return images.describe(repository, tag);
}

std::uint64_t compressed_bytes(const testing::TestImage& image) {
  std::uint64_t total = 0;
  for (const auto& layer : image.layers) total += layer.size;
  return total;
}

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
  bool compressible = false;
  app.add_option("--megabytes", megabytes, "Size of the generated image (uncompressed)")->capture_default_str();
  app.add_option("--layers", layers, "Layers of the generated image")->capture_default_str();
  app.add_option("--rounds", rounds, "Interleaved rounds")->capture_default_str();
  app.add_option("--parallel", parallel, "Berth's parallel layer downloads")->capture_default_str();
  app.add_flag("--compressible", compressible,
               "Text-like layer data (compresses to about a third) instead of incompressible random data");
  CLI11_PARSE(app, argc, argv);
  try {
    testing::TestRegistry registry;
    testing::TestImages images(registry);
    auto total = static_cast<std::uint64_t>(megabytes) << 20;
    std::string repository = compressible ? "compressible" : "large";
    std::printf("Generating %d MiB of %s data in %d layers (gzip and zstd) ...\n", megabytes,
                compressible ? "compressible" : "random", layers);
    auto gzip = compressible
                    ? compressible_image(registry, images, repository, "gzip", total, layers,
                                         testing::LayerCompression::gzip)
                    : images.large({.repository = repository, .tag = "gzip", .total_bytes = total, .layers = layers});
    auto zstd = compressible ? compressible_image(registry, images, repository, "zstd", total, layers,
                                                  testing::LayerCompression::zstd)
                             : images.large({.repository = repository, .tag = "zstd", .total_bytes = total,
                                             .layers = layers, .compression = testing::LayerCompression::zstd});
    for (const auto* image : {&gzip, &zstd}) {
      auto bytes = compressed_bytes(*image);
      std::printf("%s layers: %.1f MiB compressed (%.1f%% of %d MiB)\n", image->tag.c_str(),
                  static_cast<double>(bytes) / (1 << 20), 100.0 * static_cast<double>(bytes) / static_cast<double>(total),
                  megabytes);
    }
    std::vector<Sample> berth_gzip, berth_zstd, peer;
    for (int round = 1; round <= rounds; ++round) {
      berth_gzip.push_back(berth_pull(gzip.reference(), registry.address(), parallel));
      peer.push_back(skopeo_umoci(registry.address(), repository, "gzip"));
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
    std::vector<double> z;
    for (const auto& s : berth_zstd) z.push_back(s.wall_s);
    std::printf("speed-up over skopeo + umoci (median wall): %.1fx\n", median(p) / median(b));
    std::printf("berth zstd against berth gzip (median wall): %.2fx\n", median(b) / median(z));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "berth_pull_compare: %s\n", e.what());
    return 1;
  }
}
