#include "support/registry.hpp"

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/registry_shell.hpp"

namespace berth::testing {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// The upload-state HMAC secret. Fixed, so that an upload begun before a
// restart is still recognised after it (docker-registry draws a random one per
// start otherwise).
constexpr const char* kHttpSecret = "berth-test-registry-upload-secret";
constexpr const char* kBasicRealm = "berth-test-registry";

fs::path make_temp_dir() {
  char name[] = "/tmp/berth-registry-XXXXXX";
  if (::mkdtemp(name) == nullptr) throw std::runtime_error("registry harness: mkdtemp failed");
  return name;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// curl -D writes one header block per response; the last one is the answer.
std::map<std::string, std::string> parse_headers(const std::string& text) {
  std::map<std::string, std::string> headers;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.starts_with("HTTP/")) headers.clear();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    headers[lowercase(line.substr(0, colon))] = value;
  }
  return headers;
}

}  // namespace

std::string RegistryReply::header(std::string_view name) const {
  auto found = headers.find(lowercase(name));
  return found == headers.end() ? std::string() : found->second;
}

std::string repository_of(std::string_view target) {
  if (!target.starts_with("/v2/")) return {};
  target.remove_prefix(4);
  target = target.substr(0, target.find('?'));
  for (std::string_view marker : {"/manifests/", "/blobs/", "/tags/"}) {
    if (auto at = target.find(marker); at != std::string_view::npos) return std::string(target.substr(0, at));
  }
  return {};
}

TestRegistry::TestRegistry() : TestRegistry(Options{}) {}

TestRegistry::TestRegistry(Options options) : options_(std::move(options)), dir_(make_temp_dir()), port_(free_port()) {
  try {
    if (options_.auth == RegistryAuth::basic) options_.transport = RegistryTransport::https;
    fs::create_directories(storage_dir());
    if (options_.transport == RegistryTransport::https) make_tls_material();
    if (options_.auth == RegistryAuth::basic) make_htpasswd();
    if (options_.auth == RegistryAuth::token || options_.auth == RegistryAuth::token_login) {
      RegistryTokenServer::Options token;
      token.dir = dir_ / "token";
      token.token_lifetime = options_.token_lifetime;
      if (options_.auth == RegistryAuth::token_login) token.required_login = credentials();
      token_server_ = std::make_unique<RegistryTokenServer>(std::move(token));
    }
    write_config();
    start();
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
    throw;
  }
}

TestRegistry::~TestRegistry() {
  stop();
  token_server_.reset();
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

void TestRegistry::make_tls_material() const {
  auto tls = dir_ / "tls";
  fs::create_directories(tls);
  fs::create_directories(cert_dir());
  auto p = [&](const char* name) { return (tls / name).string(); };
  // P-256 keys: generated in milliseconds, and Go's TLS stack takes them.
  run_tool({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "3", "-subj", "/CN=Berth test registry CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
  run_tool({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", p("server.key"), "-out", p("server.csr"), "-subj", "/CN=127.0.0.1"});
  write_bytes(tls / "server.ext",
              "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
              "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
  run_tool({"openssl", "x509", "-req", "-in", p("server.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
            "-CAcreateserial", "-out", p("server.crt"), "-days", "3", "-extfile", p("server.ext")});
  fs::copy_file(tls / "ca.crt", cert_dir() / "ca.crt");
}

void TestRegistry::make_htpasswd() const {
  // Distribution's htpasswd reader accepts bcrypt entries only.
  write_bytes(dir_ / "htpasswd", run_tool({"htpasswd", "-Bbn", options_.user, options_.password}));
}

void TestRegistry::write_config() const {
  std::ostringstream config;
  config << "version: 0.1\n"
            "log:\n  level: info\n  formatter: text\n"
            "storage:\n"
            "  filesystem:\n    rootdirectory: " << storage_dir().string() << "\n"
            "  delete:\n    enabled: true\n"
            "  maintenance:\n    uploadpurging:\n      enabled: false\n"
            "http:\n"
            "  addr: " << address() << "\n"
            "  secret: " << kHttpSecret << "\n";
  if (options_.transport == RegistryTransport::https) {
    config << "  tls:\n    certificate: " << (dir_ / "tls/server.crt").string() << "\n"
           << "    key: " << (dir_ / "tls/server.key").string() << "\n";
  }
  if (options_.auth == RegistryAuth::basic) {
    config << "auth:\n  htpasswd:\n    realm: " << kBasicRealm << "\n    path: " << (dir_ / "htpasswd").string()
           << "\n";
  }
  if (token_server_) {
    config << "auth:\n  token:\n"
           << "    realm: " << token_server_->realm() << "\n"
           << "    service: " << token_server_->service() << "\n"
           << "    issuer: " << token_server_->issuer() << "\n"
           << "    rootcertbundle: " << token_server_->certificate().string() << "\n";
  }
  write_bytes(config_file(), config.str());
}

void TestRegistry::start() {
  if (process_.running()) return;
  process_ = Process::spawn({tool("docker-registry").string(), "serve", config_file().string()}, dir_ / "registry.log");
  // Up once it listens on its port itself: another process's server there
  // would answer the probe too.
  bool up = wait_until([&] {
    if (!process_.running()) return true;
    return listens_on(process_.pid(), port_) && request("GET", "/v2/", Caller::anonymous).status != 0;
  }, 20s, 50ms);
  if (!up || !process_.running()) {
    process_.stop(SIGKILL);
    throw std::runtime_error("registry harness: docker-registry did not come up on " + address() + ":\n" + log());
  }
}

int TestRegistry::stop(int signal, std::chrono::milliseconds grace) { return process_.stop(signal, grace); }

bool TestRegistry::running() { return process_.running(); }

std::string TestRegistry::address() const { return "127.0.0.1:" + std::to_string(port_); }

std::string TestRegistry::url() const {
  return (options_.transport == RegistryTransport::https ? "https://" : "http://") + address();
}

fs::path TestRegistry::ca_file() const {
  return options_.transport == RegistryTransport::https ? dir_ / "tls/ca.crt" : fs::path();
}

fs::path TestRegistry::cert_dir() const { return dir_ / "certs.d"; }

std::string TestRegistry::log() const { return read_file(dir_ / "registry.log"); }

std::string TestRegistry::authorization(std::string_view repository) const {
  switch (options_.auth) {
    case RegistryAuth::none:
      return {};
    case RegistryAuth::basic:
      return credentials().header();
    case RegistryAuth::token:
    case RegistryAuth::token_login: {
      std::vector<TokenAccess> access{{"registry", "catalog", {"*"}}};
      if (!repository.empty()) access.push_back({"repository", std::string(repository), {"pull", "push", "delete"}});
      return "Bearer " + token_server_->mint(access, options_.user);
    }
  }
  return {};
}

std::vector<std::string> TestRegistry::curl_auth_args(std::string_view target, Caller caller) const {
  if (caller == Caller::anonymous || options_.auth == RegistryAuth::none) return {};
  return {"-H", "Authorization: " + authorization(repository_of(target))};
}

RegistryReply TestRegistry::request(std::string_view method, std::string_view target, Caller caller,
                                    const std::vector<std::string>& headers) const {
  static std::atomic<int> counter{0};
  auto body_file = dir_ / ("curl-" + std::to_string(counter++) + ".body");
  auto reply = request_to_file(method, target, caller, headers, body_file);
  reply.body = read_file(body_file);
  std::error_code ignored;
  fs::remove(body_file, ignored);
  return reply;
}

RegistryReply TestRegistry::request_to_file(std::string_view method, std::string_view target, Caller caller,
                                            const std::vector<std::string>& headers, const fs::path& body_file) const {
  auto header_file = fs::path(body_file.string() + ".headers");
  std::vector<std::string> argv{tool("curl").string(), "-sS", "--noproxy", "*", "--max-time", "60",
                                "-o", body_file.string(), "-D", header_file.string(), "-w", "%{http_code}"};
  if (method == "HEAD") {
    argv.push_back("--head");
  } else {
    argv.insert(argv.end(), {"-X", std::string(method)});
  }
  if (options_.transport == RegistryTransport::https) argv.insert(argv.end(), {"--cacert", ca_file().string()});
  for (auto& arg : curl_auth_args(target, caller)) argv.push_back(std::move(arg));
  for (const auto& header : headers) argv.insert(argv.end(), {"-H", header});
  argv.push_back(url() + std::string(target));
  auto result = run(argv, 90s);
  RegistryReply reply;
  reply.status = std::atoi(result.out.c_str());
  reply.headers = parse_headers(read_file(header_file));
  if (result.exit_code != 0) reply.error = "curl exit " + std::to_string(result.exit_code) + ": " + result.err;
  std::error_code ignored;
  fs::remove(header_file, ignored);
  return reply;
}

RegistryReply TestRegistry::download_blob(std::string_view repository, std::string_view digest,
                                          const fs::path& file) const {
  return request_to_file("GET", "/v2/" + std::string(repository) + "/blobs/" + std::string(digest), Caller::authorized,
                         {}, file);
}

std::vector<std::string> TestRegistry::skopeo_destination_flags() const {
  std::vector<std::string> flags;
  if (options_.transport == RegistryTransport::https) {
    flags.push_back("--dest-cert-dir=" + cert_dir().string());
  } else {
    flags.push_back("--dest-tls-verify=false");
  }
  if (options_.auth == RegistryAuth::basic || options_.auth == RegistryAuth::token_login) {
    flags.push_back("--dest-creds=" + options_.user + ":" + options_.password);
  } else {
    flags.push_back("--dest-no-creds");
  }
  return flags;
}

fs::path TestRegistry::blob_data_path(std::string_view digest) const {
  if (!digest.starts_with("sha256:") || digest.size() != 71) {
    throw std::invalid_argument("registry harness: not a sha256 digest: " + std::string(digest));
  }
  auto hex = digest.substr(7);
  return storage_dir() / "docker/registry/v2/blobs/sha256" / std::string(hex.substr(0, 2)) / std::string(hex) / "data";
}

void TestRegistry::overwrite_blob(std::string_view digest, std::string_view content) const {
  auto path = blob_data_path(digest);
  fs::create_directories(path.parent_path());
  write_bytes(path, content);
}

void TestRegistry::corrupt_blob(std::string_view digest) const {
  auto path = blob_data_path(digest);
  auto content = read_file(path);
  if (content.empty()) throw std::runtime_error("registry harness: no blob " + std::string(digest) + " in storage");
  // Flip the first and the last byte and one in the middle: a truncated or
  // partial read cannot accidentally hash to the right value either.
  for (auto at : {std::size_t{0}, content.size() / 2, content.size() - 1}) content[at] = static_cast<char>(~content[at]);
  write_bytes(path, content);
}

void TestRegistry::remove_blob(std::string_view digest) const { fs::remove_all(blob_data_path(digest).parent_path()); }

}  // namespace berth::testing
