#pragma once
// berth-master: keeps the cluster's agents and frameworks, offers agents'
// resources to frameworks and relays tasks and their status updates.

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <memory>

#include "berth/common/error.hpp"
#include "berth/master/flags.hpp"

namespace berth::master {

class MasterProcess;

class Master {
 public:
  Master(boost::asio::any_io_executor executor, Flags flags);
  ~Master();
  Master(const Master&) = delete;
  Master& operator=(const Master&) = delete;

  // Binds the HTTP API and starts the timers.
  Result<void> start();
  // Closes every connection and stops the timers; the io_context then runs out of work.
  void stop();
  std::uint16_t port() const;
  // Non-zero once it stopped on its own (it lost its leadership).
  int exit_code() const;

 private:
  std::unique_ptr<MasterProcess> process_;
};

}  // namespace berth::master
