#pragma once
// Copies a running task's stdout and stderr from its agent's sandbox to this
// process's own, in order and complete.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string_view>

#include "berth/common/error.hpp"
#include "berth/common/http.hpp"
#include "console.hpp"
#include "mesos/v1/mesos.pb.h"
#include "sandbox_tail.hpp"

namespace berth::cli {

namespace asio = boost::asio;

// Where the offer's agent serves its HTTP API: the offer's url, else its hostname
// on the agent's default port.
http::Endpoint agent_endpoint(const mesos::v1::Offer& offer);

class OutputFollower {
 public:
  OutputFollower(http::Endpoint agent, std::string_view framework_id, std::string_view task_id,
                 const Console& console);

  // Prints everything written to stdout, then to stderr, since the last call, asking
  // again as long as the agent says there is more. Once the task is over, one call
  // prints the rest of its output. Stops at the first error (e.g. 404 before the
  // sandbox exists); what was printed stays printed.
  asio::awaitable<Result<void>> catch_up();

 private:
  using Printer = void (Console::*)(std::string_view) const;
  asio::awaitable<Result<void>> catch_up(SandboxTail& tail, Printer print);

  http::Endpoint agent_;
  const Console& console_;
  SandboxTail stdout_;
  SandboxTail stderr_;
};

}  // namespace berth::cli
