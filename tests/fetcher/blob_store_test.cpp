#include "berth/fetcher/blob_store.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.hpp"

namespace berth::fetcher {
namespace {
namespace fs = std::filesystem;

bool contains_text(const Error& error, const std::string& text) {
  return error.what().find(text) != std::string::npos;
}

class BlobStoreTest : public ::testing::Test {
 protected:
  // Every regular file under `sub` of the store, so a test can assert that
  // nothing was left behind anywhere.
  std::vector<fs::path> files_under(const std::string& sub) const {
    std::vector<fs::path> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root / sub, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->is_regular_file()) out.push_back(it->path());
    }
    return out;
  }
  void expect_store_empty() const {
    EXPECT_EQ(files_under("ingest"), std::vector<fs::path>{});
    EXPECT_EQ(files_under("blobs"), std::vector<fs::path>{});
  }

  berth::testing::TempDir dir;
  fs::path root = dir / "store";
  BlobStore store{root};
};

TEST_F(BlobStoreTest, PutThenReadRoundTrips) {
  const std::string data = "layer bytes\n";
  const Digest digest = sha256_of(data);
  ASSERT_FALSE(store.contains(digest));

  auto put = store.put(digest, data);
  ASSERT_TRUE(put.has_value()) << put.error().what();

  EXPECT_TRUE(store.contains(digest));
  EXPECT_EQ(store.path(digest), (root / "blobs" / "sha256" / digest.hex).string());
  EXPECT_EQ(berth::testing::slurp(store.path(digest)), data);
  auto read = store.read(digest);
  ASSERT_TRUE(read.has_value()) << read.error().what();
  EXPECT_EQ(*read, data);
  EXPECT_EQ(files_under("ingest"), std::vector<fs::path>{});
}

TEST_F(BlobStoreTest, CommittedBlobsAreReadOnly) {
  const Digest digest = sha256_of("x");
  ASSERT_TRUE(store.put(digest, "x").has_value());
  struct stat st {};
  ASSERT_EQ(::stat(store.path(digest).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
}

TEST_F(BlobStoreTest, EmptyAndSha512BlobsAreStored) {
  ASSERT_TRUE(store.put(sha256_of(""), "").has_value());
  EXPECT_EQ(store.read(sha256_of("")).value_or("missing"), "");

  auto hasher = Hasher::create("sha512");
  ASSERT_TRUE(hasher.has_value());
  hasher->update("abc");
  const Digest sha512 = hasher->finish();
  auto put = store.put(sha512, "abc");
  ASSERT_TRUE(put.has_value()) << put.error().what();
  EXPECT_EQ(store.path(sha512), (root / "blobs" / "sha512" / sha512.hex).string());
  EXPECT_EQ(store.read(sha512).value_or("missing"), "abc");
}

TEST_F(BlobStoreTest, PutOfSameBlobTwiceSucceeds) {
  const Digest digest = sha256_of("twice");
  ASSERT_TRUE(store.put(digest, "twice").has_value());
  auto again = store.put(digest, "twice");
  ASSERT_TRUE(again.has_value()) << again.error().what();
  EXPECT_EQ(store.read(digest).value_or("missing"), "twice");
  EXPECT_EQ(files_under("blobs").size(), 1u);
}

TEST_F(BlobStoreTest, MismatchIsRefusedNamingBothDigestsAndLeavesNothing) {
  const Digest claimed = sha256_of("what the manifest promised");
  const Digest actual = sha256_of("what the registry sent");
  auto put = store.put(claimed, "what the registry sent");
  ASSERT_FALSE(put.has_value());
  EXPECT_TRUE(contains_text(put.error(), "expected " + claimed.str())) << put.error().what();
  EXPECT_TRUE(contains_text(put.error(), "got " + actual.str())) << put.error().what();
  EXPECT_FALSE(store.contains(claimed));
  EXPECT_FALSE(store.contains(actual));
  expect_store_empty();
}

TEST_F(BlobStoreTest, StreamingWriterCommitsChunks) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += "chunk " + std::to_string(i) + "\n";
  const Digest digest = sha256_of(data);

  auto writer = store.begin(digest);
  ASSERT_TRUE(writer.has_value()) << writer.error().what();
  for (std::size_t at = 0; at < data.size(); at += 777) {
    auto written = writer->write(std::string_view(data).substr(at, 777));
    ASSERT_TRUE(written.has_value()) << written.error().what();
  }
  EXPECT_EQ(writer->bytes_written(), data.size());
  EXPECT_FALSE(store.contains(digest)) << "visible before commit";
  EXPECT_EQ(files_under("ingest").size(), 1u);

  auto committed = writer->commit();
  ASSERT_TRUE(committed.has_value()) << committed.error().what();
  EXPECT_EQ(store.read(digest).value_or("missing"), data);
  EXPECT_EQ(files_under("ingest"), std::vector<fs::path>{});
}

TEST_F(BlobStoreTest, AbandonedWriterLeavesNothing) {
  const Digest digest = sha256_of("complete content");
  {
    auto writer = store.begin(digest);
    ASSERT_TRUE(writer.has_value()) << writer.error().what();
    ASSERT_TRUE(writer->write("complete").has_value());
    ASSERT_EQ(files_under("ingest").size(), 1u);
  }
  EXPECT_FALSE(store.contains(digest));
  expect_store_empty();
}

TEST_F(BlobStoreTest, WriterMismatchOnCommitLeavesNothingAndClosesWriter) {
  const Digest digest = sha256_of("good");
  auto writer = store.begin(digest);
  ASSERT_TRUE(writer.has_value());
  ASSERT_TRUE(writer->write("evil").has_value());
  auto committed = writer->commit();
  ASSERT_FALSE(committed.has_value());
  EXPECT_TRUE(contains_text(committed.error(), "got " + sha256_of("evil").str())) << committed.error().what();
  expect_store_empty();

  auto late = writer->write("good");
  ASSERT_FALSE(late.has_value());
  EXPECT_TRUE(contains_text(late.error(), "writer is closed")) << late.error().what();
  EXPECT_FALSE(writer->commit().has_value());
  expect_store_empty();
}

TEST_F(BlobStoreTest, ExpectedSizeIsEnforced) {
  const Digest digest = sha256_of("four");
  auto too_long = store.begin(digest, 3);
  ASSERT_TRUE(too_long.has_value());
  auto written = too_long->write("four");
  ASSERT_FALSE(written.has_value());
  EXPECT_TRUE(contains_text(written.error(), "more than the limit of 3 bytes")) << written.error().what();
  expect_store_empty();

  auto too_short = store.begin(digest, 10);
  ASSERT_TRUE(too_short.has_value());
  ASSERT_TRUE(too_short->write("four").has_value());
  auto committed = too_short->commit();
  ASSERT_FALSE(committed.has_value());
  EXPECT_TRUE(contains_text(committed.error(), "expected 10 bytes, got 4")) << committed.error().what();
  expect_store_empty();
}

TEST_F(BlobStoreTest, MaxBlobSizeIsEnforcedBeforeTheDigestCanBeChecked) {
  BlobStore small{root, BlobStoreOptions{.max_blob_size = 8}};
  const std::string data = "nine byte";
  auto writer = small.begin(sha256_of(data));
  ASSERT_TRUE(writer.has_value());
  ASSERT_TRUE(writer->write("nine").has_value());
  auto over = writer->write(" byte");
  ASSERT_FALSE(over.has_value());
  EXPECT_TRUE(contains_text(over.error(), "more than the limit of 8 bytes")) << over.error().what();
  expect_store_empty();

  auto declared = small.begin(sha256_of(data), 100);
  ASSERT_FALSE(declared.has_value());
  EXPECT_TRUE(contains_text(declared.error(), "size 100 exceeds the limit of 8 bytes")) << declared.error().what();
  EXPECT_FALSE(small.put(sha256_of(data), data).has_value());
  expect_store_empty();
}

TEST_F(BlobStoreTest, CorruptionOnDiskIsDetectedOnRead) {
  const std::string data = "original content";
  const Digest digest = sha256_of(data);
  ASSERT_TRUE(store.put(digest, data).has_value());

  fs::permissions(store.path(digest), fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(store.path(digest), std::ios::binary | std::ios::trunc) << "0riginal content";

  auto read = store.read(digest);
  ASSERT_FALSE(read.has_value());
  EXPECT_TRUE(contains_text(read.error(), "read blob " + digest.str())) << read.error().what();
  EXPECT_TRUE(contains_text(read.error(), "corrupt")) << read.error().what();
  EXPECT_TRUE(contains_text(read.error(), sha256_of("0riginal content").str())) << read.error().what();
  EXPECT_EQ(read.error().path(), store.path(digest));

  std::ofstream(store.path(digest), std::ios::binary | std::ios::trunc);
  auto truncated = store.read(digest);
  ASSERT_FALSE(truncated.has_value());
  EXPECT_TRUE(contains_text(truncated.error(), "corrupt")) << truncated.error().what();
}

TEST_F(BlobStoreTest, ReadOfMissingBlobFailsWithEnoent) {
  auto read = store.read(sha256_of("never stored"));
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code(), ENOENT);
  EXPECT_TRUE(contains_text(read.error(), sha256_of("never stored").str())) << read.error().what();
}

TEST_F(BlobStoreTest, RemoveDeletesAndReportsAbsence) {
  const Digest digest = sha256_of("gone soon");
  ASSERT_TRUE(store.put(digest, "gone soon").has_value());
  auto removed = store.remove(digest);
  ASSERT_TRUE(removed.has_value()) << removed.error().what();
  EXPECT_FALSE(store.contains(digest));
  EXPECT_FALSE(fs::exists(store.path(digest)));

  auto again = store.remove(digest);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), ENOENT);
}

TEST_F(BlobStoreTest, MalformedDigestsNeverTouchTheFilesystem) {
  berth::testing::write_text(dir / "secret", "outside the store");
  const Digest escape{"sha256", "../../../secret"};
  EXPECT_EQ(store.path(escape), "");
  EXPECT_FALSE(store.contains(escape));
  EXPECT_FALSE(store.read(escape).has_value());
  EXPECT_FALSE(store.remove(escape).has_value());
  EXPECT_FALSE(store.put(escape, "x").has_value());
  EXPECT_FALSE(store.begin(Digest{"md5", "d41d8cd98f00b204e9800998ecf8427e"}).has_value());
  EXPECT_EQ(berth::testing::slurp(dir / "secret"), "outside the store");
  EXPECT_FALSE(fs::exists(root)) << "a refused digest created the store's directories";
}

TEST_F(BlobStoreTest, ConcurrentWritersOfOneDigestDoNotCorruptEachOther) {
  std::string data;
  for (int i = 0; data.size() < (1 << 20); ++i) data += std::to_string(i * 7919) + ",";
  const Digest digest = sha256_of(data);
  constexpr int kWriters = 8;

  // All ingest files exist before any byte is written, so the writes overlap.
  std::vector<BlobWriter> writers;
  for (int i = 0; i < kWriters; ++i) {
    auto writer = store.begin(digest);
    ASSERT_TRUE(writer.has_value()) << writer.error().what();
    writers.push_back(std::move(*writer));
  }
  EXPECT_EQ(files_under("ingest").size(), static_cast<std::size_t>(kWriters));

  std::vector<Result<void>> results(kWriters);
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      for (std::size_t at = 0; at < data.size(); at += 4096) {
        if (auto written = writers[i].write(std::string_view(data).substr(at, 4096)); !written) {
          results[i] = written;
          return;
        }
        std::this_thread::yield();
      }
      results[i] = writers[i].commit();
    });
  }
  for (auto& thread : threads) thread.join();

  for (const auto& result : results) EXPECT_TRUE(result.has_value()) << result.error().what();
  EXPECT_EQ(store.read(digest).value_or("corrupt"), data);
  EXPECT_EQ(files_under("ingest"), std::vector<fs::path>{});
  EXPECT_EQ(files_under("blobs").size(), 1u);
}

TEST_F(BlobStoreTest, MovedWritersKeepOwnershipOfTheirIngestFile) {
  const Digest first = sha256_of("first");
  const Digest second = sha256_of("second");
  auto a = store.begin(first);
  auto b = store.begin(second);
  ASSERT_TRUE(a.has_value() && b.has_value());
  ASSERT_TRUE(a->write("fir").has_value());
  ASSERT_EQ(files_under("ingest").size(), 2u);

  BlobWriter moved = std::move(*a);
  ASSERT_TRUE(moved.write("st").has_value());
  // Assigning over a writer abandons the blob it was writing.
  moved = std::move(*b);
  EXPECT_EQ(files_under("ingest").size(), 1u);
  EXPECT_EQ(moved.expected(), second);
  ASSERT_TRUE(moved.write("second").has_value());
  auto committed = moved.commit();
  ASSERT_TRUE(committed.has_value()) << committed.error().what();

  EXPECT_TRUE(store.contains(second));
  EXPECT_FALSE(store.contains(first));
  EXPECT_EQ(files_under("ingest"), std::vector<fs::path>{});
}

}  // namespace
}  // namespace berth::fetcher
