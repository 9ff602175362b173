#pragma once
// Content digests as OCI descriptors and registries write them
// ("sha256:<hex>"), and incremental hashing to produce them.

#include <memory>
#include <string>
#include <string_view>

#include "berth/common/error.hpp"

// OpenSSL's own struct tags (EVP_MD, EVP_MD_CTX), declared so that users of
// this header need not see OpenSSL.
struct evp_md_st;
struct evp_md_ctx_st;

namespace berth::fetcher {

struct Digest {
  std::string algorithm;  // "sha256" or "sha512"
  std::string hex;        // lowercase, 64 or 128 characters

  // "<algorithm>:<hex>"
  std::string str() const { return algorithm + ":" + hex; }
  // "<algorithm>-<hex>": a file name with no ':' (locks, partial downloads, ingest files).
  std::string file_name() const { return algorithm + "-" + hex; }
  bool operator==(const Digest&) const = default;
};

// Accepts only the algorithms the OCI image spec registers for use
// (sha256 with 64 and sha512 with 128 lowercase hex characters). Anything else
// is refused rather than carried along, because a digest we cannot recompute
// cannot protect the content it names.
Result<Digest> parse_digest(std::string_view text);

// Error unless `digest` is exactly what parse_digest would return for its
// str(). Everything that turns a digest into a path checks this first, so a
// hand-built Digest{"sha256", "../../x"} can never name a file.
Result<void> validate(const Digest& digest);

// Incremental hash of one supported algorithm over OpenSSL EVP. Move-only.
// finish() returns the digest and starts over, so a hasher is never left in a
// state where update() would be undefined.
class Hasher {
 public:
  // Error for an algorithm parse_digest would refuse.
  static Result<Hasher> create(std::string_view algorithm);

  void update(std::string_view data);
  Digest finish();

 protected:
  explicit Hasher(std::string_view algorithm);

 private:
  struct ContextFree {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::string algorithm_;
  const evp_md_st* md_ = nullptr;  // static, owned by OpenSSL
  std::unique_ptr<evp_md_ctx_st, ContextFree> ctx_;
};

class Sha256 : public Hasher {
 public:
  Sha256() : Hasher("sha256") {}
};

Digest sha256_of(std::string_view data);

}  // namespace berth::fetcher
