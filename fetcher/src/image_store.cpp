#include "berth/fetcher/image_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <random>

#include "berth/common/files.hpp"
#include "berth/common/log.hpp"
#include "overlay_whiteouts.hpp"

namespace berth::fetcher {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

json::array digests_json(const std::vector<Digest>& digests) {
  json::array out;
  for (const auto& d : digests) out.emplace_back(d.str());
  return out;
}

Result<std::vector<Digest>> digests_field(const json::object& object, std::string_view key) {
  const auto* array = object.if_contains(key);
  if (array == nullptr || !array->is_array()) return fail(fmt::format("\"{}\" must be an array", key));
  std::vector<Digest> out;
  for (const auto& item : array->as_array()) {
    if (!item.is_string()) return fail(fmt::format("\"{}\" must hold digests", key));
    BERTH_TRY(auto digest, with_context(parse_digest(item.as_string()), std::string(key)));
    out.push_back(std::move(digest));
  }
  return out;
}

std::string random_name() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

// Removes a tree whose directories may be read-only (unpacked layers keep the
// image's modes), without following symlinks.
void remove_tree(const fs::path& path) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
  }
  ::chmod(path.c_str(), 0700);
  fs::remove_all(path, ec);
  if (ec) log::warn("Removing {}: {}", path.string(), ec.message());
}

std::uint64_t tree_bytes(const fs::path& path) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0) total += static_cast<std::uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

// A file or directory removed while we opened and locked it (a cleaner took
// it for a leftover) has no links left.
bool still_linked(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && st.st_nlink > 0;
}

// Removes the entries of `dir` that no live process holds a lock on.
void remove_unlocked(const fs::path& dir) {
  std::error_code ec;
  for (const auto& leftover : fs::directory_iterator(dir, ec)) {
    UniqueFd fd(::open(leftover.path().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;
    log::info("Image store: removing {}, left by an interrupted pull", leftover.path().string());
    remove_tree(leftover.path());
  }
}

}  // namespace

std::string to_json(const ImageRecord& r) {
  return json::serialize(json::object{{"reference", r.reference},
                                      {"manifest_digest", r.manifest_digest.str()},
                                      {"media_type", r.media_type},
                                      {"config_digest", r.config_digest.str()},
                                      {"layers", digests_json(r.layers)},
                                      {"diff_ids", digests_json(r.diff_ids)},
                                      {"size", r.size},
                                      {"pulled_at", r.pulled_at}});
}

Result<ImageRecord> parse_image_record(std::string_view text) {
  boost::system::error_code ec;
  auto value = json::parse(text, ec);
  if (ec || !value.is_object()) return fail("image record: not a JSON object");
  const auto& o = value.as_object();
  auto string = [&](std::string_view key) -> Result<std::string> {
    const auto* v = o.if_contains(key);
    if (v == nullptr || !v->is_string()) return fail(fmt::format("image record: \"{}\" must be a string", key));
    return std::string(v->as_string());
  };
  ImageRecord record;
  BERTH_TRY(record.reference, string("reference"));
  BERTH_TRY(auto manifest, string("manifest_digest"));
  BERTH_TRY(record.manifest_digest, parse_digest(manifest));
  BERTH_TRY(record.media_type, string("media_type"));
  BERTH_TRY(auto config, string("config_digest"));
  BERTH_TRY(record.config_digest, parse_digest(config));
  BERTH_TRY(record.layers, with_context(digests_field(o, "layers"), "image record"));
  BERTH_TRY(record.diff_ids, with_context(digests_field(o, "diff_ids"), "image record"));
  if (const auto* size = o.if_contains("size"); size && size->is_number()) record.size = size->to_number<std::uint64_t>();
  if (const auto* at = o.if_contains("pulled_at"); at && at->is_number()) record.pulled_at = at->to_number<std::int64_t>();
  return record;
}

IngestLayer::IngestLayer(IngestLayer&& other) noexcept
    : path_(std::exchange(other.path_, {})), lock_(std::move(other.lock_)) {}

StoreLock::~StoreLock() {
  if (fd_ && !remove_on_release_.empty()) ::unlink(remove_on_release_.c_str());
}

IngestLayer::~IngestLayer() {
  if (!path_.empty()) remove_tree(path_);
}

ImageStore::ImageStore(fs::path root) : root_(root), blobs_(root / "blobs") {}

Result<ImageStore> ImageStore::open(fs::path root) {
  if (!root.is_absolute()) return fail("image store: " + root.string() + " is not an absolute path");
  for (const char* dir : {"blobs/ingest", "layers/sha256", "layers/ingest", "layers/locks", "layers/partial", "images"}) {
    BERTH_TRY_VOID(files::make_dirs(root / dir));
  }
  remove_unlocked(root / "layers/ingest");
  remove_unlocked(root / "blobs/ingest");
  return ImageStore(std::move(root));
}

fs::path ImageStore::layer_path(const Digest& digest) const {
  if (!validate(digest)) return {};
  return root_ / "layers" / digest.algorithm / digest.hex;
}

bool ImageStore::has_layer(const Digest& digest) const {
  auto path = layer_path(digest);
  std::error_code ec;
  return !path.empty() && fs::is_directory(fs::symlink_status(path, ec));
}

fs::path ImageStore::partial_path(const Digest& digest) const {
  if (!validate(digest)) return {};
  return root_ / "layers/partial" / digest.file_name();
}

Result<IngestLayer> ImageStore::begin_layer() {
  for (;;) {
    auto path = root_ / "layers/ingest" / random_name();
    if (::mkdir(path.c_str(), 0755) != 0) return fail_sys("mkdir", path.string());
    UniqueFd lock(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!lock) return fail_sys("open", path.string());
    if (::flock(lock.get(), LOCK_EX) != 0) return fail_sys("flock", path.string());
    if (still_linked(lock.get())) return IngestLayer(std::move(path), std::move(lock));
  }
}

Result<StoreLock> ImageStore::lock_layer(const Digest& digest) {
  BERTH_TRY_VOID(validate(digest));
  auto path = root_ / "layers/locks" / digest.file_name();
  for (;;) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return fail_sys("open", path.string());
    int rc;
    while ((rc = ::flock(fd.get(), LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (rc != 0) return fail_sys("flock", path.string());
    if (still_linked(fd.get())) return StoreLock(std::move(fd), std::move(path));
  }
}

Result<StoreLock> ImageStore::share_for_pull() {
  auto path = root_ / "store.lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return fail_sys("open", path.string());
  int rc;
  while ((rc = ::flock(fd.get(), LOCK_SH)) != 0 && errno == EINTR) {
  }
  if (rc != 0) return fail_sys("flock", path.string());
  return StoreLock(std::move(fd), {});
}

namespace {

// On a layer's root directory: its opaque directories carry user.overlay.opaque.
constexpr const char* kUserMarksXattr = "user.berth.overlay_marks";

}  // namespace

Result<void> ImageStore::ensure_user_overlay_marks(const fs::path& layer_dir) {
  char value[8];
  if (::getxattr(layer_dir.c_str(), kUserMarksXattr, value, sizeof value) >= 0) return {};
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(layer_dir, fs::directory_options::none, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
    if (::lgetxattr(it->path().c_str(), kOpaqueXattr, value, sizeof value) < 0) continue;
    if (::lsetxattr(it->path().c_str(), kUserOpaqueXattr, "y", 1, 0) != 0) {
      return fail_sys(std::string("lsetxattr ") + kUserOpaqueXattr, it->path().string());
    }
  }
  if (ec) return fail(Error("walking layer", ec.value(), layer_dir.string()));
  if (::setxattr(layer_dir.c_str(), kUserMarksXattr, "1", 1, 0) != 0) {
    return fail_sys(std::string("setxattr ") + kUserMarksXattr, layer_dir.string());
  }
  return {};
}

Result<void> ImageStore::commit_layer(IngestLayer layer, const Digest& digest) {
  BERTH_TRY_VOID(validate(digest));
  auto target = layer_path(digest);
  // Its opaque directories got user.overlay.opaque as they were unpacked.
  if (::setxattr(layer.path().c_str(), kUserMarksXattr, "1", 1, 0) != 0 && errno != ENOTSUP) {
    return fail_sys(std::string("setxattr ") + kUserMarksXattr, layer.path().string());
  }
  BERTH_TRY_VOID(files::make_dirs(target.parent_path()));
  if (::rename(layer.path().c_str(), target.c_str()) != 0) {
    // ENOTEMPTY/EEXIST: another pull committed the same layer first.
    if (errno == ENOTEMPTY || errno == EEXIST) return {};
    return fail_sys("rename", target.string());
  }
  layer.path_.clear();
  return files::fsync_dir(target.parent_path());
}

fs::path ImageStore::record_path(std::string_view reference) const {
  return root_ / "images" / (sha256_of(reference).hex + ".json");
}

Result<void> ImageStore::put_image(const ImageRecord& record) {
  return files::write_atomic(record_path(record.reference), to_json(record));
}

Result<std::optional<ImageRecord>> ImageStore::image(std::string_view reference) const {
  auto path = record_path(reference);
  if (!fs::exists(path)) return std::optional<ImageRecord>{};
  BERTH_TRY(auto text, files::read(path));
  BERTH_TRY(auto record, with_context(parse_image_record(text), path.string()));
  return std::optional(std::move(record));
}

Result<std::vector<ImageRecord>> ImageStore::images() const {
  std::vector<ImageRecord> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_ / "images", ec)) {
    if (entry.path().extension() != ".json") continue;
    BERTH_TRY(auto text, files::read(entry.path()));
    auto record = parse_image_record(text);
    if (!record) {
      log::warn("Image store: ignoring {}: {}", entry.path().string(), record.error().what());
      continue;
    }
    out.push_back(std::move(*record));
  }
  if (ec) return fail(Error("list images", ec.value(), (root_ / "images").string()));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.reference < b.reference; });
  return out;
}

Result<void> ImageStore::remove_image(std::string_view reference) {
  auto path = record_path(reference);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return fail(Error(fmt::format("no image {} in the store", reference), ENOENT));
    return fail_sys("unlink", path.string());
  }
  return {};
}

Result<PruneResult> ImageStore::prune(const std::set<std::string>& in_use) {
  auto lock_path = root_ / "store.lock";
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock) return fail_sys("open", lock_path.string());
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return fail(Error("an image pull is in progress; prune again when it is done", EBUSY));
    return fail_sys("flock", lock_path.string());
  }
  std::set<std::string> keep_layers = in_use;
  std::set<std::string> keep_blobs;
  BERTH_TRY(auto records, images());
  for (const auto& record : records) {
    keep_blobs.insert(record.manifest_digest.str());
    keep_blobs.insert(record.config_digest.str());
    for (const auto& layer : record.layers) keep_layers.insert(layer.str());
  }
  PruneResult result;
  std::error_code ec;
  for (const char* algorithm : {"sha256", "sha512"}) {
    for (const auto& entry : fs::directory_iterator(root_ / "layers" / algorithm, ec)) {
      auto digest = std::string(algorithm) + ":" + entry.path().filename().string();
      if (keep_layers.contains(digest)) continue;
      result.bytes_freed += tree_bytes(entry.path());
      remove_tree(entry.path());
      result.layers_removed.push_back(digest);
    }
    ec.clear();
    for (const auto& entry : fs::directory_iterator(root_ / "blobs/blobs" / algorithm, ec)) {
      auto digest = std::string(algorithm) + ":" + entry.path().filename().string();
      if (keep_blobs.contains(digest)) continue;
      auto parsed = parse_digest(digest);
      if (!parsed) continue;
      result.bytes_freed += static_cast<std::uint64_t>(entry.file_size(ec));
      if (blobs_.remove(*parsed)) result.blobs_removed.push_back(digest);
    }
    ec.clear();
  }
  // No pull runs (the store lock says so): no partial download is in use.
  for (const auto& entry : fs::directory_iterator(root_ / "layers/partial", ec)) {
    std::error_code size_ec;
    auto size = entry.file_size(size_ec);
    if (::unlink(entry.path().c_str()) != 0) continue;
    if (!size_ec) result.bytes_freed += size;
    ++result.partial_downloads_removed;
  }
  return result;
}

Result<std::uint64_t> ImageStore::disk_usage() const { return tree_bytes(root_); }

}  // namespace berth::fetcher
