#include "berth/fetcher/registry_client.hpp"

#include <curl/curl.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>
#include <thread>

#include "berth/common/log.hpp"
#include "berth/common/text.hpp"

namespace berth::fetcher {
namespace {

constexpr std::size_t kMaxErrorBody = 64 << 10;

using text::ascii_lower;
using text::trim;

struct CurlHandleFree {
  void operator()(CURL* curl) const { ::curl_easy_cleanup(curl); }
};
struct CurlListFree {
  void operator()(curl_slist* list) const { ::curl_slist_free_all(list); }
};

// One handle per thread, reset between requests, so that its connection cache
// keeps connections to the registry open across requests.
CURL* thread_handle() {
  static std::once_flag global;
  std::call_once(global, [] { ::curl_global_init(CURL_GLOBAL_DEFAULT); });
  thread_local std::unique_ptr<CURL, CurlHandleFree> handle(::curl_easy_init());
  if (handle) ::curl_easy_reset(handle.get());
  return handle.get();
}

struct Request {
  std::string url;
  std::vector<std::string> headers = {};
  std::optional<Credentials> basic = {};  // for a token server
  // Receives the body of a 200 or 206 answer; an error aborts the transfer.
  std::function<Result<void>(std::string_view)> on_body = {};
  std::size_t max_body = kMaxErrorBody;
};

struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // of the last response, names lower-cased
  std::string body;                            // when not streamed (error bodies: truncated)
  CURLcode curl_code = CURLE_OK;
  std::string curl_error;
  std::optional<Error> sink_error;  // why on_body stopped the transfer
  bool body_too_large = false;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  bool streamed_status() const { return status == 200 || status == 206; }
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<Response*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    // A new response (after a redirect or a 100 Continue): start over.
    response->headers.clear();
    auto space = line.find(' ');
    response->status = space == std::string_view::npos ? 0 : std::atol(std::string(line.substr(space + 1, 3)).c_str());
  } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
    response->headers[ascii_lower(trim(line.substr(0, colon)))] = std::string(trim(line.substr(colon + 1)));
  }
  return size * count;
}

struct WriteContext {
  Response* response;
  const Request* request;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* context = static_cast<WriteContext*>(user);
  std::string_view chunk(data, size * count);
  auto& response = *context->response;
  if (context->request->on_body && response.streamed_status()) {
    if (auto delivered = context->request->on_body(chunk); !delivered) {
      response.sink_error = std::move(delivered).error();
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    return chunk.size();
  }
  if (response.body.size() + chunk.size() > context->request->max_body) {
    if (response.streamed_status()) {
      response.body_too_large = true;
      return 0;
    }
    response.body.append(chunk.substr(0, context->request->max_body - response.body.size()));
    return chunk.size();
  }
  response.body.append(chunk);
  return chunk.size();
}

bool transient(const Response& response) {
  switch (response.curl_code) {
    case CURLE_OK: return response.status == 429 || response.status >= 500;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR: return true;
    default: return false;
  }
}

std::string describe(const Response& response) {
  if (response.curl_code != CURLE_OK) {
    return response.curl_error.empty() ? ::curl_easy_strerror(response.curl_code) : response.curl_error;
  }
  auto message = registry_error_message(response.body);
  return message.empty() ? fmt::format("HTTP {}", response.status) : fmt::format("HTTP {}: {}", response.status, message);
}

}  // namespace

std::string registry_error_message(std::string_view body) {
  boost::system::error_code ec;
  auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) return {};
  const auto* errors = value.as_object().if_contains("errors");
  if (errors == nullptr || !errors->is_array()) return {};
  std::string out;
  for (const auto& error : errors->as_array()) {
    if (!error.is_object()) continue;
    const auto* code = error.as_object().if_contains("code");
    const auto* message = error.as_object().if_contains("message");
    if (!out.empty()) out += "; ";
    if (code && code->is_string()) out += std::string(code->as_string());
    if (message && message->is_string()) out += (code ? ": " : "") + std::string(message->as_string());
  }
  return out;
}

std::string registry_url(const RegistryOptions& options, const ImageReference& reference, std::string_view kind,
                         std::string_view ref) {
  bool insecure = std::ranges::find(options.insecure_registries, reference.registry) != options.insecure_registries.end();
  return fmt::format("{}://{}/v2/{}/{}/{}", insecure ? "http" : "https", reference.registry, reference.repository, kind,
                     ref);
}

struct RegistryClient::Impl {
  RegistryOptions options;
  mutable std::mutex mutex;
  std::map<std::string, std::string> authorization;  // "registry/repository" -> Authorization header value
  std::atomic<std::uint64_t> requests{0}, retries{0}, tokens{0}, resumed{0};

  // Fills `response` in place, so that a body callback may look at its status.
  void perform(const Request& request, Response& response) {
    response = Response{};
    CURL* curl = thread_handle();
    if (curl == nullptr) {
      response.curl_code = CURLE_FAILED_INIT;
      return;
    }
    ++requests;
    char error_buffer[CURL_ERROR_SIZE] = {};
    std::unique_ptr<curl_slist, CurlListFree> headers;
    for (const auto& header : request.headers) {
      headers.reset(::curl_slist_append(headers.release(), header.c_str()));
    }
    WriteContext context{&response, &request};
    ::curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    ::curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
    ::curl_easy_setopt(curl, CURLOPT_USERAGENT, "berth/" BERTH_VERSION);
    ::curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    ::curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
    ::curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    ::curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    ::curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options.connect_timeout.count()));
    ::curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    ::curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.stall_timeout.count()));
    ::curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    ::curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
    ::curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    ::curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
    ::curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    ::curl_easy_setopt(curl, CURLOPT_WRITEDATA, &context);
    if (!options.ca_file.empty()) ::curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
    if (request.basic) {
      ::curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      ::curl_easy_setopt(curl, CURLOPT_USERNAME, request.basic->username.c_str());
      ::curl_easy_setopt(curl, CURLOPT_PASSWORD, request.basic->password.c_str());
    }
    response.curl_code = ::curl_easy_perform(curl);
    response.curl_error = error_buffer;
    long status = 0;
    ::curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 0) response.status = status;
  }

  // perform(), again after a backoff while the failure is transient.
  void perform_retrying(const Request& request, Response& response) {
    auto backoff = options.backoff;
    for (int attempt = 1;; ++attempt) {
      perform(request, response);
      if (!transient(response) || response.sink_error || attempt >= options.attempts) return;
      ++retries;
      log::info("Registry request {} failed ({}); retrying in {} ms", request.url, describe(response), backoff.count());
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
  }

  static std::string scope_key(const ImageReference& reference) {
    return reference.registry + "/" + reference.repository;
  }

  std::optional<std::string> cached_authorization(const ImageReference& reference) {
    std::lock_guard lock(mutex);
    auto it = authorization.find(scope_key(reference));
    if (it == authorization.end()) return std::nullopt;
    return it->second;
  }

  Result<std::optional<Credentials>> credentials(const ImageReference& reference) {
    if (options.docker_config.empty()) return std::optional<Credentials>{};
    return credentials_from_docker_config_file(options.docker_config, reference.registry);
  }

  // Answers a 401's challenge: the Authorization header to send from now on.
  Result<void> authenticate(const ImageReference& reference, const Response& refused) {
    auto header = refused.header("www-authenticate");
    if (header.empty()) return fail(fmt::format("registry {} answered 401 without a challenge", reference.registry));
    BERTH_TRY(auto challenge, parse_auth_challenge(header));
    BERTH_TRY(auto creds, credentials(reference));
    std::string value;
    if (challenge.scheme == AuthChallenge::Scheme::basic) {
      if (!creds) {
        return fail(fmt::format("registry {} asks for a user name and password, and the Docker config{} has none for it",
                                reference.registry,
                                options.docker_config.empty() ? "" : " " + options.docker_config.string()));
      }
      value = "Basic " + base64_encode(creds->username + ":" + creds->password);
    } else {
      BERTH_TRY(auto token, fetch_token(reference, challenge, creds));
      value = "Bearer " + token;
    }
    std::lock_guard lock(mutex);
    authorization[scope_key(reference)] = std::move(value);
    return {};
  }

  Result<std::string> fetch_token(const ImageReference& reference, const AuthChallenge& challenge,
                                  const std::optional<Credentials>& creds) {
    auto realm = challenge.param("realm");
    auto scope = challenge.param("scope");
    if (scope.empty()) scope = "repository:" + reference.repository + ":pull";
    CURL* curl = thread_handle();
    auto escape = [curl](const std::string& text) {
      char* escaped = ::curl_easy_escape(curl, text.c_str(), static_cast<int>(text.size()));
      std::string out = escaped ? escaped : "";
      ::curl_free(escaped);
      return out;
    };
    std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&") + "scope=" + escape(scope);
    if (auto service = challenge.param("service"); !service.empty()) url += "&service=" + escape(service);
    Request request{.url = url, .headers = {"Accept: application/json"}, .basic = creds};
    Response response;
    perform_retrying(request, response);
    if (response.curl_code != CURLE_OK || response.status != 200) {
      return fail(fmt::format("token server {} for {}: {}{}", realm, scope, describe(response),
                              response.status == 401 && !creds ? " (no credentials for this registry)" : ""));
    }
    ++tokens;
    return with_context(token_from_response(response.body), "token server " + realm);
  }

  // Whether a request is sent again after a transient failure, or left to
  // its caller (a blob download resumes where it broke off).
  enum class Retry { transient, none };

  // A request to the registry, authenticated as its 401 asks (once), into
  // `response`, which a body callback may watch; an error when answering
  // the challenge failed.
  Result<void> authorized(const ImageReference& reference, Request request, Response& response, Retry retry) {
    auto base_headers = request.headers;
    for (int round = 0;; ++round) {
      request.headers = base_headers;
      if (auto header = cached_authorization(reference)) request.headers.push_back("Authorization: " + *header);
      if (retry == Retry::transient) {
        perform_retrying(request, response);
      } else {
        perform(request, response);
      }
      if (response.status != 401 || round > 0) return {};
      BERTH_TRY_VOID(authenticate(reference, response));
    }
  }

  Result<FetchedManifest> manifest(const ImageReference& reference, const std::string& ref,
                                   const std::optional<Digest>& expected) {
    Request request{.url = registry_url(options, reference, "manifests", ref),
                    .headers = {"Accept: " + manifest_accept_header()},
                    .max_body = options.max_manifest_bytes};
    auto what = fmt::format("manifest {}:{} from {}", reference.repository, ref, reference.registry);
    Response response;
    BERTH_TRY_VOID(with_context(authorized(reference, request, response, Retry::transient), what));
    if (response.body_too_large) {
      return fail(fmt::format("{}: larger than {} bytes", what, options.max_manifest_bytes));
    }
    if (response.curl_code != CURLE_OK || response.status != 200) {
      if (response.status == 404) return fail(fmt::format("{}: not found ({})", what, describe(response)));
      return fail(fmt::format("{}: {}", what, describe(response)));
    }
    FetchedManifest fetched;
    fetched.body = std::move(response.body);
    auto announced = response.header("docker-content-digest");
    std::optional<Digest> check = expected;
    if (!check && !announced.empty()) {
      BERTH_TRY(check, with_context(parse_digest(announced), what + ": Docker-Content-Digest"));
    }
    auto algorithm = check ? check->algorithm : std::string("sha256");
    BERTH_TRY(auto hasher, Hasher::create(algorithm));
    hasher.update(fetched.body);
    fetched.digest = hasher.finish();
    if (check && fetched.digest != *check) {
      return fail(fmt::format("{}: content has digest {}, expected {}", what, fetched.digest.str(), check->str()));
    }
    // parse_manifest reads the Content-Type, parameters and all, with the document's own mediaType.
    BERTH_TRY(fetched.parsed, with_context(parse_manifest(response.header("content-type"), fetched.body), what));
    if (fetched.parsed.image) fetched.media_type = fetched.parsed.image->media_type;
    if (fetched.parsed.index) fetched.media_type = fetched.parsed.index->media_type;
    return fetched;
  }

  Result<void> blob(const ImageReference& reference, const Descriptor& descriptor, std::uint64_t offset,
                    const Sink& sink) {
    auto what = fmt::format("blob {} of {} from {}", descriptor.digest.str(), reference.repository, reference.registry);
    if (offset > descriptor.size) {
      return fail(fmt::format("{}: cannot start at byte {} of {}", what, offset, descriptor.size));
    }
    BERTH_TRY(auto hasher, Hasher::create(descriptor.digest.algorithm));
    std::uint64_t delivered = offset;
    auto backoff = options.backoff;
    for (int attempt = 1;; ++attempt) {
      Response response;
      // A registry that ignores Range resends the blob from its start: the
      // bytes already delivered are skipped.
      std::uint64_t skip = 0;
      bool first_chunk = true;
      Request request{.url = registry_url(options, reference, "blobs", descriptor.digest.str())};
      if (delivered > 0) request.headers.push_back(fmt::format("Range: bytes={}-", delivered));
      request.on_body = [&](std::string_view chunk) -> Result<void> {
        if (first_chunk) {
          first_chunk = false;
          if (delivered > 0 && response.status == 200) skip = delivered;
        }
        auto n = std::min<std::uint64_t>(skip, chunk.size());
        chunk.remove_prefix(n);
        skip -= n;
        if (chunk.empty()) return {};
        if (delivered + chunk.size() > descriptor.size) {
          return fail(fmt::format("more than the {} bytes its descriptor gives", descriptor.size));
        }
        hasher.update(chunk);
        delivered += chunk.size();
        return sink(chunk);
      };
      // A refused first round (401) delivers no body here: first_chunk waits for the blob's.
      BERTH_TRY_VOID(with_context(authorized(reference, request, response, Retry::none), what));
      if (response.sink_error) return fail(std::move(*response.sink_error).context(what));
      if (response.curl_code == CURLE_OK && response.streamed_status()) break;
      bool broken_off = response.curl_code != CURLE_OK && response.streamed_status();
      if (!(transient(response) || broken_off) || attempt >= options.attempts) {
        if (response.status == 404) return fail(fmt::format("{}: not found ({})", what, describe(response)));
        return fail(fmt::format("{}: {} after {} of {} bytes", what, describe(response), delivered, descriptor.size));
      }
      ++retries;
      if (delivered > 0) ++resumed;
      log::info("{}: {} after {} bytes; retrying in {} ms", what, describe(response), delivered, backoff.count());
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
    if (delivered != descriptor.size) {
      return fail(fmt::format("{}: {} bytes, its descriptor gives {}", what, delivered, descriptor.size));
    }
    if (offset > 0) return {};  // the caller, who holds the first bytes, checks the digest
    auto digest = hasher.finish();
    if (digest != descriptor.digest) {
      return fail(fmt::format("{}: content has digest {}, expected {}", what, digest.str(), descriptor.digest.str()));
    }
    return {};
  }
};

RegistryClient::RegistryClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RegistryClient::~RegistryClient() = default;

Result<std::unique_ptr<RegistryClient>> RegistryClient::create(RegistryOptions options) {
  if (!options.ca_file.empty() && !std::filesystem::exists(options.ca_file)) {
    return fail_sys("registry CA file", options.ca_file.string());
  }
  if (options.attempts < 1) return fail("registry client: attempts must be at least 1");
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  return std::unique_ptr<RegistryClient>(new RegistryClient(std::move(impl)));
}

Result<FetchedManifest> RegistryClient::manifest(const ImageReference& reference) {
  if (reference.digest) return impl_->manifest(reference, reference.digest->str(), reference.digest);
  return impl_->manifest(reference, reference.tag.value_or("latest"), std::nullopt);
}

Result<FetchedManifest> RegistryClient::manifest(const ImageReference& reference, const Digest& digest) {
  return impl_->manifest(reference, digest.str(), digest);
}

Result<void> RegistryClient::blob(const ImageReference& reference, const Descriptor& blob, const Sink& sink) {
  return impl_->blob(reference, blob, 0, sink);
}

Result<void> RegistryClient::blob_from(const ImageReference& reference, const Descriptor& blob, std::uint64_t offset,
                                       const Sink& sink) {
  return impl_->blob(reference, blob, offset, sink);
}

RegistryStats RegistryClient::stats() const {
  return {impl_->requests.load(), impl_->retries.load(), impl_->tokens.load(), impl_->resumed.load()};
}

}  // namespace berth::fetcher
