#include "berth/fetcher/digest.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <new>
#include <stdexcept>

namespace berth::fetcher {

namespace {

struct Algorithm {
  std::string_view name;
  std::size_t hex_length;
};

// OCI image spec, "Registered algorithms".
constexpr std::array kAlgorithms{Algorithm{"sha256", 64}, Algorithm{"sha512", 128}};

const Algorithm* find_algorithm(std::string_view name) {
  auto it = std::ranges::find(kAlgorithms, name, &Algorithm::name);
  return it == kAlgorithms.end() ? nullptr : &*it;
}

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

Result<void> check_hex(const Algorithm& algorithm, std::string_view hex) {
  if (hex.size() != algorithm.hex_length) {
    return fail(std::string(algorithm.name) + " digest needs " + std::to_string(algorithm.hex_length) +
                " hex characters, got " + std::to_string(hex.size()));
  }
  // The spec requires lowercase; accepting "ABC" would let two strings name
  // one blob and break equality of digests as keys.
  auto bad = std::ranges::find_if_not(hex, is_lower_hex);
  if (bad != hex.end()) {
    return fail("digest hex must be lowercase [0-9a-f], found '" + std::string(1, *bad) + "'");
  }
  return {};
}

std::unexpected<Error> unsupported_algorithm(std::string_view name) {
  std::string supported;
  for (const auto& a : kAlgorithms) supported += (supported.empty() ? "" : ", ") + std::string(a.name);
  return fail("unsupported digest algorithm '" + std::string(name) + "' (supported: " + supported + ")");
}

// Only allocation failure or a broken OpenSSL install makes EVP fail for
// these built-in algorithms; neither is something a caller could handle, and
// sha256_of() returning a Result for it would burden every caller.
[[noreturn]] void openssl_failed(const char* op) {
  char text[256] = "unknown error";
  if (unsigned long code = ERR_get_error(); code != 0) ERR_error_string_n(code, text, sizeof text);
  throw std::runtime_error(std::string(op) + ": " + text);
}

}  // namespace

Result<Digest> parse_digest(std::string_view text) {
  auto context = "invalid digest '" + std::string(text) + "'";
  auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    return fail(Error("expected <algorithm>:<hex>").context(context));
  }
  Digest digest{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
  BERTH_TRY_VOID(with_context(validate(digest), context));
  return digest;
}

Result<void> validate(const Digest& digest) {
  const Algorithm* algorithm = find_algorithm(digest.algorithm);
  if (algorithm == nullptr) return unsupported_algorithm(digest.algorithm);
  return check_hex(*algorithm, digest.hex);
}

void Hasher::ContextFree::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Hasher::Hasher(std::string_view algorithm) : algorithm_(algorithm) {
  md_ = EVP_get_digestbyname(algorithm_.c_str());
  if (md_ == nullptr) openssl_failed("EVP_get_digestbyname");
  ctx_.reset(EVP_MD_CTX_new());
  if (!ctx_) throw std::bad_alloc();
  if (EVP_DigestInit_ex(ctx_.get(), md_, nullptr) != 1) openssl_failed("EVP_DigestInit_ex");
}

Result<Hasher> Hasher::create(std::string_view algorithm) {
  if (find_algorithm(algorithm) == nullptr) return unsupported_algorithm(algorithm);
  return Hasher(algorithm);
}

void Hasher::update(std::string_view data) {
  if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1) openssl_failed("EVP_DigestUpdate");
}

Digest Hasher::finish() {
  unsigned char raw[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), raw, &length) != 1) openssl_failed("EVP_DigestFinal_ex");
  if (EVP_DigestInit_ex(ctx_.get(), md_, nullptr) != 1) openssl_failed("EVP_DigestInit_ex");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[raw[i] >> 4];
    hex += kHex[raw[i] & 0xf];
  }
  return Digest{algorithm_, std::move(hex)};
}

Digest sha256_of(std::string_view data) {
  Sha256 hasher;
  hasher.update(data);
  return hasher.finish();
}

}  // namespace berth::fetcher
