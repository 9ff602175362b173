#include "berth/fetcher/reference.hpp"

#include <algorithm>
#include <cstdio>

namespace berth::fetcher {

namespace {

// distribution/reference: NameTotalLengthMax, counted on the normalized name.
constexpr std::size_t kNameMaxLength = 255;
constexpr std::size_t kTagMaxLength = 128;
// What `docker login` and old configs still write for Docker Hub.
constexpr std::string_view kLegacyDockerHubDomain = "index.docker.io";
// Docker Hub's official images live under "library/".
constexpr std::string_view kOfficialImagesPrefix = "library/";

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_alnum(char c) { return is_lower_alnum(c) || is_upper(c); }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A character as it can be read in an error message, even a control or
// non-ASCII byte.
std::string describe(char c) {
  if (c > ' ' && c < 0x7f) return std::string("'") + c + "'";
  char text[8];
  std::snprintf(text, sizeof text, "0x%02x", static_cast<unsigned char>(c));
  return text;
}

// The reference cut at its punctuation; each part is validated on its own.
struct Parts {
  std::optional<std::string_view> domain;
  std::string_view path;
  std::optional<std::string_view> tag;
  std::optional<std::string_view> digest;
};

bool looks_like_domain(std::string_view component) {
  return component.find_first_of(".:") != std::string_view::npos || component == "localhost";
}

Parts split(std::string_view text) {
  Parts parts;
  if (auto at = text.find('@'); at != std::string_view::npos) {
    parts.digest = text.substr(at + 1);
    text = text.substr(0, at);
  }
  // A colon before the last '/' is the domain's port, not a tag.
  auto colon = text.rfind(':');
  auto last_slash = text.rfind('/');
  if (colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
    parts.tag = text.substr(colon + 1);
    text = text.substr(0, colon);
  }
  auto first_slash = text.find('/');
  if (first_slash != std::string_view::npos && looks_like_domain(text.substr(0, first_slash))) {
    parts.domain = text.substr(0, first_slash);
    text = text.substr(first_slash + 1);
  }
  parts.path = text;
  return parts;
}

Result<void> check_host_component(std::string_view component) {
  if (component.empty()) return fail("empty component between '.'");
  auto bad = std::ranges::find_if_not(component, [](char c) { return is_alnum(c) || c == '-'; });
  if (bad != component.end()) return fail("invalid character " + describe(*bad));
  if (component.front() == '-' || component.back() == '-') {
    return fail("component '" + std::string(component) + "' starts or ends with '-'");
  }
  return {};
}

Result<void> check_host_name(std::string_view host) {
  if (host.empty()) return fail("empty host");
  for (std::size_t start = 0;;) {
    auto dot = host.find('.', start);
    BERTH_TRY_VOID(check_host_component(host.substr(start, dot - start)));
    if (dot == std::string_view::npos) return {};
    start = dot + 1;
  }
}

// The grammar accepts any run of hex digits and colons between brackets, as
// distribution/reference does; the registry's resolver judges the address.
Result<void> check_ipv6(std::string_view address) {
  if (address.empty()) return fail("empty IPv6 address between '[' and ']'");
  auto bad = std::ranges::find_if_not(address, [](char c) { return is_hex(c) || c == ':'; });
  if (bad != address.end()) return fail("invalid character " + describe(*bad) + " in IPv6 address");
  return {};
}

Result<void> check_port(std::string_view port) {
  if (port.empty()) return fail("empty port after ':'");
  if (!std::ranges::all_of(port, is_digit)) return fail("port '" + std::string(port) + "' is not a number");
  return {};
}

Result<void> check_domain(std::string_view domain) {
  std::optional<std::string_view> port;
  if (domain.starts_with('[')) {
    auto close = domain.find(']');
    if (close == std::string_view::npos) return fail("'[' without ']'");
    BERTH_TRY_VOID(check_ipv6(domain.substr(1, close - 1)));
    auto after = domain.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("unexpected " + describe(after.front()) + " after ']'");
      port = after.substr(1);
    }
  } else {
    auto colon = domain.find(':');
    BERTH_TRY_VOID(check_host_name(domain.substr(0, colon)));
    if (colon != std::string_view::npos) port = domain.substr(colon + 1);
  }
  if (port) BERTH_TRY_VOID(check_port(*port));
  return {};
}

bool is_separator(std::string_view run) {
  return run == "." || run == "_" || run == "__" || std::ranges::all_of(run, [](char c) { return c == '-'; });
}

Result<void> check_path_component(std::string_view component) {
  if (component.empty()) return fail("empty path component (\"//\")");
  auto in_alphabet = [](char c) { return is_lower_alnum(c) || c == '.' || c == '_' || c == '-'; };
  auto bad = std::ranges::find_if_not(component, in_alphabet);
  if (bad != component.end()) return fail("invalid character " + describe(*bad));
  auto quoted = "'" + std::string(component) + "'";
  if (!is_lower_alnum(component.front())) return fail("path component " + quoted + " starts with a separator");
  if (!is_lower_alnum(component.back())) return fail("path component " + quoted + " ends with a separator");
  for (std::size_t i = 0; i < component.size();) {
    auto end = std::find_if(component.begin() + i, component.end(), is_lower_alnum) - component.begin();
    auto run = component.substr(i, end - i);
    if (!run.empty() && !is_separator(run)) {
      return fail("invalid separator '" + std::string(run) + "' in path component " + quoted);
    }
    i = std::find_if_not(component.begin() + end, component.end(), is_lower_alnum) - component.begin();
  }
  return {};
}

Result<void> check_path(std::string_view path) {
  if (path.empty()) return fail("missing repository name");
  if (std::ranges::any_of(path, is_upper)) return fail("repository name must be lowercase");
  if (path.front() == '/') return fail("leading '/'");
  if (path.back() == '/') return fail("trailing '/'");
  for (std::size_t start = 0;;) {
    auto slash = path.find('/', start);
    BERTH_TRY_VOID(check_path_component(path.substr(start, slash - start)));
    if (slash == std::string_view::npos) return {};
    start = slash + 1;
  }
}

Result<void> check_tag(std::string_view tag) {
  if (tag.empty()) return fail("empty tag after ':'");
  if (tag.size() > kTagMaxLength) {
    return fail("tag is " + std::to_string(tag.size()) + " characters, more than " + std::to_string(kTagMaxLength));
  }
  if (!is_word(tag.front())) return fail("tag must start with [A-Za-z0-9_], not " + describe(tag.front()));
  auto bad = std::ranges::find_if_not(tag, [](char c) { return is_word(c) || c == '.' || c == '-'; });
  if (bad != tag.end()) return fail("invalid character " + describe(*bad) + " in tag");
  return {};
}

// `docker pull <64 hex>` would be ambiguous with a local image ID, so
// distribution/reference refuses such names outright.
bool looks_like_image_id(std::string_view text) {
  return text.size() == 64 && std::ranges::all_of(text, [](char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); });
}

// "docker.io", its legacy alias and the host that actually serves it are one
// registry; treating them alike keeps str() parsing back to an equal reference.
bool is_docker_hub(std::string_view domain) {
  return domain == kDockerHubDomain || domain == kLegacyDockerHubDomain || domain == kDockerHubRegistry;
}

Result<ImageReference> normalize(const Parts& parts) {
  ImageReference ref;
  std::string_view domain = parts.domain.value_or(kDockerHubDomain);
  bool hub = is_docker_hub(domain);
  ref.registry = hub ? kDockerHubRegistry : domain;
  if (hub && parts.path.find('/') == std::string_view::npos) ref.repository = kOfficialImagesPrefix;
  ref.repository += parts.path;
  if (auto length = ref.domain().size() + 1 + ref.repository.size(); length > kNameMaxLength) {
    return fail("name is " + std::to_string(length) + " characters, more than " + std::to_string(kNameMaxLength));
  }
  if (parts.tag) ref.tag = std::string(*parts.tag);
  if (parts.digest) {
    BERTH_TRY(ref.digest, parse_digest(*parts.digest));
  }
  if (!ref.tag && !ref.digest) ref.tag = "latest";
  return ref;
}

Result<ImageReference> parse(std::string_view text) {
  if (text.empty()) return fail("empty");
  if (looks_like_image_id(text)) return fail("a 64-character hex string is an image ID, not a reference");
  Parts parts = split(text);
  if (parts.domain) {
    BERTH_TRY_VOID(with_context(check_domain(*parts.domain), "domain '" + std::string(*parts.domain) + "'"));
  }
  BERTH_TRY_VOID(with_context(check_path(parts.path), "repository '" + std::string(parts.path) + "'"));
  if (parts.tag) BERTH_TRY_VOID(with_context(check_tag(*parts.tag), "tag '" + std::string(*parts.tag) + "'"));
  return normalize(parts);
}

}  // namespace

std::string ImageReference::domain() const {
  return registry == kDockerHubRegistry ? std::string(kDockerHubDomain) : registry;
}

std::string ImageReference::str() const {
  std::string out = domain() + "/" + repository;
  if (tag) out += ":" + *tag;
  if (digest) out += "@" + digest->str();
  return out;
}

Result<ImageReference> parse_image_reference(std::string_view text) {
  return with_context(parse(text), "invalid image reference '" + std::string(text) + "'");
}

}  // namespace berth::fetcher
