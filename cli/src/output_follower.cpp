#include "output_follower.hpp"

#include <fmt/format.h>

#include "berth/common/log.hpp"

namespace berth::cli {
namespace {

// The agent answers from its own disk: a slow answer means it is in trouble, and
// the next poll will ask again.
constexpr std::chrono::seconds kRequestTimeout(10);
constexpr std::uint16_t kDefaultAgentPort = 5051;

}  // namespace

http::Endpoint agent_endpoint(const mesos::v1::Offer& offer) {
  if (!offer.has_url()) return {offer.hostname(), kDefaultAgentPort};
  const auto& address = offer.url().address();
  std::string host = !address.ip().empty()         ? address.ip()
                     : !address.hostname().empty() ? address.hostname()
                                                   : offer.hostname();
  return {std::move(host), static_cast<std::uint16_t>(address.port())};
}

OutputFollower::OutputFollower(http::Endpoint agent, std::string_view framework_id, std::string_view task_id,
                               const Console& console)
    : agent_(std::move(agent)),
      console_(console),
      stdout_(framework_id, task_id, "stdout"),
      stderr_(framework_id, task_id, "stderr") {}

asio::awaitable<Result<void>> OutputFollower::catch_up() {
  auto out = co_await catch_up(stdout_, &Console::task_stdout);
  auto err = co_await catch_up(stderr_, &Console::task_stderr);
  if (!out) co_return out;
  co_return err;
}

asio::awaitable<Result<void>> OutputFollower::catch_up(SandboxTail& tail, Printer print) {
  for (;;) {
    auto request = http::make_request(http::Verb::get, tail.target());
    request.set(boost::beast::http::field::host, fmt::format("{}:{}", agent_.host, agent_.port));
    auto response = co_await http::request(agent_, std::move(request), kRequestTimeout);
    if (!response) co_return fail(std::move(response).error().context("read task output"));
    auto size = (*response)[kFileSizeHeader];
    auto chunk = tail.take(static_cast<unsigned>(response->result()), std::move(response->body()), size);
    if (!chunk) co_return fail(std::move(chunk).error().context("read task output"));
    if (chunk->missing) log::debug("no {} yet at {}", tail.target(), agent_.host);
    if (!chunk->data.empty()) (console_.*print)(chunk->data);
    if (!chunk->more) co_return Result<void>{};
  }
}

}  // namespace berth::cli
