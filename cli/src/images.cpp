#include "images.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>

#include "berth/common/http.hpp"

namespace berth::cli {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f} {}", bytes, units[unit]) : fmt::format("{:.1f} {}", bytes, units[unit]);
}

// The agent's JSON answer to `target`, or an error naming the agent.
Result<json::value> ask(const std::string& agent, http::Verb verb, const std::string& target) {
  BERTH_TRY(auto endpoint, with_context(http::parse_endpoint(agent, 5051), "--agent"));
  auto response = http::request_sync(endpoint, http::make_request(verb, target), 120s);
  if (!response) return fail(std::move(response).error().context("agent " + agent));
  if (response->result() != http::Status::ok) {
    return fail(fmt::format("agent {}: {} {}", agent, static_cast<int>(response->result()), response->body()));
  }
  boost::system::error_code ec;
  auto value = json::parse(response->body(), ec);
  if (ec) return fail(fmt::format("agent {}: answer is not JSON: {}", agent, ec.message()));
  return value;
}

int list(const ImagesOptions& options) {
  auto answer = ask(options.agent, http::Verb::get, "/images");
  if (!answer) {
    std::fprintf(stderr, "berth images: %s\n", answer.error().what().c_str());
    return 1;
  }
  std::printf("%-60s %-19s %7s %10s\n", "REFERENCE", "DIGEST", "LAYERS", "SIZE");
  for (const auto& image : answer->at("images").as_array()) {
    std::string digest = image.at("manifest_digest").as_string().c_str();
    std::printf("%-60s %-19s %7zu %10s\n", image.at("reference").as_string().c_str(), digest.substr(0, 19).c_str(),
                image.at("layers").as_array().size(), human_bytes(image.at("size").to_number<double>()).c_str());
  }
  std::printf("store: %s on disk\n", human_bytes(answer->at("disk_usage_bytes").to_number<double>()).c_str());
  return 0;
}

int prune(const ImagesOptions& options) {
  auto answer = ask(options.agent, http::Verb::post, "/images/prune");
  if (!answer) {
    std::fprintf(stderr, "berth images prune: %s\n", answer.error().what().c_str());
    return 1;
  }
  for (const auto& layer : answer->at("layers_removed").as_array()) {
    std::printf("removed layer %s\n", layer.as_string().c_str());
  }
  for (const auto& blob : answer->at("blobs_removed").as_array()) {
    std::printf("removed blob %s\n", blob.as_string().c_str());
  }
  std::printf("freed %s\n", human_bytes(answer->at("bytes_freed").to_number<double>()).c_str());
  return 0;
}

}  // namespace

CLI::App* add_images_command(CLI::App& app, ImagesOptions& options) {
  auto* images = app.add_subcommand("images", "List the images in an agent's store");
  images->add_option("--agent", options.agent, "Agent to ask, host:port")->capture_default_str();
  auto* prune = images->add_subcommand("prune", "Remove what no image and no running container uses");
  prune->fallthrough();  // `berth images prune --agent ...` too
  prune->callback([&options] { options.prune = true; });
  return images;
}

int images(const ImagesOptions& options) { return options.prune ? prune(options) : list(options); }

}  // namespace berth::cli
