#pragma once
// The agent's checkpoint writes, off its event loop. Each file is written
// atomically (files::write_atomic: temporary, fsync, rename, directory
// fsync) on a thread of the checkpointer's own, in the order the writes were
// asked for, so that the loop never waits on a disk sync and a launch
// overlaps the sync of its record. Whoever must not act before a record is
// on disk (a status update is sent only once recorded) passes a callback,
// which runs on the loop after the write, with its outcome.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "berth/common/error.hpp"

namespace berth::agent {

class Checkpointer {
 public:
  using Done = std::function<void(Result<void>)>;

  explicit Checkpointer(boost::asio::any_io_executor loop);
  ~Checkpointer();  // finishes the writes asked for; their callbacks no longer run
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // After every write asked for before this one. Without `done`, a failure
  // is logged.
  void write(std::filesystem::path path, std::string data, Done done = {});
  // Other disk work that must not hold the loop up, in the same order.
  void run(std::function<Result<void>()> job, Done done = {});
  // Blocks until every write asked for so far is on disk (their callbacks
  // are posted to the loop, not run).
  void drain();

 private:
  boost::asio::any_io_executor loop_;
  std::shared_ptr<char> alive_ = std::make_shared<char>();  // callbacks run while it does
  boost::asio::thread_pool thread_{1};                       // one thread: writes keep their order
};

}  // namespace berth::agent
