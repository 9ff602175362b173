#pragma once
// berth-agent: registers with the master, runs the tasks it is sent in
// containers, reports their status updates reliably, and serves its state.

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <memory>

#include "berth/agent/flags.hpp"
#include "berth/common/error.hpp"

namespace berth::agent {

class AgentProcess;

class Agent {
 public:
  Agent(boost::asio::any_io_executor executor, Flags flags);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Recovers containers from the work directory, binds the HTTP API and starts
  // registering with the master.
  Result<void> start();
  // Stops talking to the master and serving; running containers keep running
  // and are recovered by the next agent on the same work directory.
  void stop();
  std::uint16_t port() const;

 private:
  std::unique_ptr<AgentProcess> process_;
};

}  // namespace berth::agent
