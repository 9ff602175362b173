#pragma once
// A client of the Docker Registry HTTP API v2 / OCI distribution spec, for
// pulling: manifests by tag or digest and blobs by digest, each verified
// against its digest before the caller may use it.
//
// Transport is libcurl: HTTPS with the system's CAs plus an optional CA file,
// plain HTTP only for registries listed as insecure, redirects followed (blob
// storage often lives elsewhere; an Authorization header is never carried to
// another host), a stall timeout rather than a total one (a 2 GB layer may
// take a while, a silent connection may not), and retries with exponential
// backoff for connection failures, 429 and 5xx. A blob whose transfer broke
// resumes with a Range request where the registry honours it.
//
// Authentication follows the registry's 401 challenge: Basic with the
// credentials of a Docker config.json, or Bearer with a token fetched from
// the challenge's realm (with those credentials when there are some), cached
// per registry and repository until the registry refuses it.
//
// Thread-safe: parallel layer downloads share one client.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "berth/common/error.hpp"
#include "berth/fetcher/digest.hpp"
#include "berth/fetcher/manifest.hpp"
#include "berth/fetcher/reference.hpp"
#include "berth/fetcher/registry_auth.hpp"

namespace berth::fetcher {

struct RegistryOptions {
  // host[:port] of registries spoken to over plain HTTP.
  std::vector<std::string> insecure_registries = {};
  // PEM file of extra CAs to trust for registries' TLS certificates.
  std::filesystem::path ca_file = {};
  // Docker config.json with credentials ("auths"); empty: none.
  std::filesystem::path docker_config = {};
  // Attempts per request for transient failures, and the first backoff
  // (doubled each time).
  int attempts = 4;
  std::chrono::milliseconds backoff = std::chrono::milliseconds(250);
  // A transfer that moves no byte for this long is broken off (and retried).
  std::chrono::seconds stall_timeout = std::chrono::seconds(30);
  std::chrono::seconds connect_timeout = std::chrono::seconds(15);
  // Largest manifest accepted.
  std::size_t max_manifest_bytes = 4 << 20;
};

struct FetchedManifest {
  std::string media_type;  // of the manifest or index, as parse_manifest settled it
  std::string body;
  Digest digest;           // of `body`, checked against the reference and Docker-Content-Digest
  ParsedManifest parsed;
};

struct RegistryStats {
  std::uint64_t requests = 0;
  std::uint64_t retries = 0;
  std::uint64_t tokens_fetched = 0;
  std::uint64_t resumed_blobs = 0;
};

class RegistryClient {
 public:
  static Result<std::unique_ptr<RegistryClient>> create(RegistryOptions options = {});
  ~RegistryClient();
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  // The manifest `reference` names (its digest if it has one, else its tag).
  // A manifest fetched by digest must hash to it; one fetched by tag must hash
  // to the Docker-Content-Digest the registry announced, if it did.
  Result<FetchedManifest> manifest(const ImageReference& reference);
  // The same for a digest within the reference's repository (an index's entry).
  Result<FetchedManifest> manifest(const ImageReference& reference, const Digest& digest);

  // Streams a blob to `sink` in order, each byte once, even across a resumed
  // transfer; the blob's size and digest are checked as it arrives (more bytes
  // than the descriptor says stop the transfer at once) and at the end. A
  // sink error stops the transfer and is returned. After an error the sink
  // may have received part of the blob, which the caller must discard.
  using Sink = std::function<Result<void>(std::string_view chunk)>;
  Result<void> blob(const ImageReference& reference, const Descriptor& blob, const Sink& sink);
  // The same from byte `offset` on, for a caller that holds the bytes
  // before it (a download an earlier process broke off): the size is
  // checked, the digest cannot be here and is the caller's to check.
  Result<void> blob_from(const ImageReference& reference, const Descriptor& blob, std::uint64_t offset,
                         const Sink& sink);

  RegistryStats stats() const;

  struct Impl;

 private:
  explicit RegistryClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "https://host:port/v2/<repository>/<kind>/<ref>", http for an insecure registry.
std::string registry_url(const RegistryOptions& options, const ImageReference& reference, std::string_view kind,
                         std::string_view ref);

// The message of a registry's JSON error body ({"errors":[{"code","message"}]}),
// e.g. "MANIFEST_UNKNOWN: manifest unknown"; empty when the body is not one.
std::string registry_error_message(std::string_view body);

}  // namespace berth::fetcher
