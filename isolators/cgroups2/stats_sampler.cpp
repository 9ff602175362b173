#include "berth/isolators/cgroups2/stats_sampler.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>

#include "berth/isolators/cgroups2/controllers.hpp"
#include "stats_sampler_ring.hpp"

namespace berth::isolators::cgroups2 {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kInitialBuffer = 16 * 1024;

double process_cpu_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e9 + static_cast<double>(now.tv_nsec);
}

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return std::ranges::find(names, name) != names.end();
}

std::vector<const StatFile*> files_to_read(const StatsSamplerOptions& options) {
  std::vector<const StatFile*> files;
  for (const auto* controller : all_controllers()) {
    auto selection = contains(options.enabled, controller->name()) ? StatSelection::all : StatSelection::core_only;
    for (const auto& file : controller->stat_files()) {
      if (!selected(file, selection)) continue;
      if (file.kind == StatKind::pressure && options.pressure == PressureFiles::skip) continue;
      files.push_back(&file);
    }
  }
  return files;
}

Error open_error(int err, const fs::path& path) {
  Error error = Error::sys("open", err, path.string());
  if (err == EMFILE || err == ENFILE) {
    return std::move(error).context("the stats sampler keeps each container's stat files open: raise RLIMIT_NOFILE");
  }
  return error;
}

}  // namespace

std::string_view to_string(SamplerBackend backend) {
  switch (backend) {
    case SamplerBackend::automatic: return "automatic";
    case SamplerBackend::io_uring: return "io_uring";
    case SamplerBackend::pread: return "pread";
  }
  return "unknown";
}

StatsSampler::StatsSampler(std::vector<const StatFile*> files, std::unique_ptr<Ring> ring,
                           std::optional<Calibration> calibration)
    : files_(std::move(files)), ring_(std::move(ring)), calibration_(calibration), buffer_(kInitialBuffer) {}

StatsSampler::~StatsSampler() = default;

Result<std::unique_ptr<StatsSampler>> StatsSampler::create(const StatsSamplerOptions& options) {
  for (const auto& name : options.enabled) {
    if (find_controller(name) == nullptr) return fail("stats sampler: unknown cgroup controller \"" + name + "\"");
  }
  auto files = files_to_read(options);
  std::unique_ptr<Ring> ring;
  if (options.backend != SamplerBackend::pread) {
    auto opened = Ring::open(files);
    if (!opened && options.backend == SamplerBackend::io_uring) return fail(std::move(opened).error());
    if (opened) ring = std::move(*opened);
  }
  std::optional<Calibration> calibration;
  if (ring && options.backend == SamplerBackend::automatic) calibration.emplace();
  return std::unique_ptr<StatsSampler>(new StatsSampler(std::move(files), std::move(ring), calibration));
}

SamplerBackend StatsSampler::backend() const {
  bool pread_turn = calibration_ && calibration_->rounds % 2 == 1;
  return ring_ && !pread_turn ? SamplerBackend::io_uring : SamplerBackend::pread;
}

Result<void> StatsSampler::add(const std::string& container_id, const fs::path& cgroup) {
  std::vector<UniqueFd> opened;
  opened.reserve(files_.size());
  for (const auto* file : files_) {
    const fs::path path = cgroup / file->name;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd && !(errno == ENOENT && file->presence == StatPresence::optional)) {
      return fail(open_error(errno, path).context("sample container " + container_id));
    }
    opened.push_back(std::move(fd));
  }
  std::ranges::move(opened, std::back_inserter(fds_));
  cgroups_.push_back(cgroup);
  samples_.push_back(ContainerSample{.container_id = container_id, .status = {}, .statistics = {}});
  return {};
}

void StatsSampler::remove(const std::string& container_id) {
  auto found = std::ranges::find(samples_, container_id, &ContainerSample::container_id);
  if (found == samples_.end()) return;
  // Swap with the last container and drop it: order is not kept.
  const auto index = static_cast<std::size_t>(found - samples_.begin());
  const auto last = samples_.size() - 1;
  const auto width = files_.size();
  for (std::size_t f = 0; f < width; ++f) std::swap(fds_[index * width + f], fds_[last * width + f]);
  std::swap(samples_[index], samples_[last]);
  std::swap(cgroups_[index], cgroups_[last]);
  fds_.resize(last * width);
  samples_.pop_back();
  cgroups_.pop_back();
}

std::span<const ContainerSample> StatsSampler::sample() {
  for (auto& sample : samples_) sample.status = {};
  const SamplerBackend used = backend();
  const auto start = process_cpu_ns();
  read_all(used);
  if (calibration_ && samples_.size() >= Calibration::kMinContainers) calibrate(used, process_cpu_ns() - start);
  return samples_;
}

void StatsSampler::read_all(SamplerBackend backend) {
  if (backend == SamplerBackend::pread) return sample_with_pread();
  // A ring that fails (its errors are recorded in the samples) is dropped:
  // pread from the next sample on.
  if (!ring_->sample(*this)) {
    ring_.reset();
    calibration_.reset();
  }
}

// Process CPU, which counts io-wq workers too should a kernel punt reads to them.
void StatsSampler::calibrate(SamplerBackend used, double cpu_ns) {
  (used == SamplerBackend::io_uring ? calibration_->io_uring_ns : calibration_->pread_ns) += cpu_ns;
  if (++calibration_->rounds < Calibration::kRounds) return;
  if (calibration_->pread_ns < calibration_->io_uring_ns) ring_.reset();
  calibration_.reset();
}

void StatsSampler::consume(std::size_t container, std::size_t file, std::string_view text) {
  auto& sample = samples_[container];
  if (!sample.status) return;  // keep the first failure
  auto parsed = files_[file]->parse(text, sample.statistics);
  if (!parsed) {
    const auto path = cgroups_[container] / files_[file]->name;
    sample.status = fail(Error(parsed.error().message(), parsed.error().code(), path.string()));
  }
}

void StatsSampler::read_failed(std::size_t container, std::size_t file, int error) {
  auto& sample = samples_[container];
  if (!sample.status) return;  // keep the first failure
  sample.status = fail(Error::sys("read", error, (cgroups_[container] / files_[file]->name).string()));
}

long StatsSampler::read_whole(int fd) {
  for (;;) {
    ssize_t n = ::pread(fd, buffer_.data(), buffer_.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    // A full buffer may be a cut: read again from 0 (regenerated) into a bigger one.
    if (static_cast<std::size_t>(n) < buffer_.size()) return n;
    buffer_.resize(buffer_.size() * 2);
  }
}

void StatsSampler::sample_with_pread() {
  for (std::size_t c = 0; c < samples_.size(); ++c) {
    for (std::size_t f = 0; f < files_.size(); ++f) {
      if (fd(c, f) < 0) continue;
      long n = read_whole(fd(c, f));
      if (n < 0) read_failed(c, f, static_cast<int>(-n));
      else consume(c, f, std::string_view(buffer_.data(), static_cast<std::size_t>(n)));
    }
  }
}

}  // namespace berth::isolators::cgroups2
