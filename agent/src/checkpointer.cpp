#include "berth/agent/checkpointer.hpp"

#include <boost/asio/post.hpp>

#include <future>

#include "berth/common/files.hpp"
#include "berth/common/log.hpp"

namespace berth::agent {

namespace asio = boost::asio;

Checkpointer::Checkpointer(asio::any_io_executor loop) : loop_(std::move(loop)) {}

Checkpointer::~Checkpointer() {
  alive_.reset();
  thread_.join();
}

void Checkpointer::write(std::filesystem::path path, std::string data, Done done) {
  run(
      [path = std::move(path), data = std::move(data), log_failure = !done]() -> Result<void> {
        auto saved = files::write_atomic(path, data);
        if (!saved && log_failure) log::error("Failed to checkpoint {}: {}", path.string(), saved.error().what());
        return saved;
      },
      std::move(done));
}

void Checkpointer::run(std::function<Result<void>()> job, Done done) {
  asio::post(thread_, [this, job = std::move(job), done = std::move(done),
                       alive = std::weak_ptr<char>(alive_)]() mutable {
    auto result = job();
    if (!done) return;
    asio::post(loop_, [alive = std::move(alive), done = std::move(done), result = std::move(result)]() mutable {
      if (alive.lock()) done(std::move(result));
    });
  });
}

void Checkpointer::drain() {
  std::promise<void> written;
  asio::post(thread_, [&written] { written.set_value(); });
  written.get_future().wait();
}

}  // namespace berth::agent
