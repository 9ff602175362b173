#pragma once
// Where the CLI writes: the task's stdout and stderr go to its own, unchanged;
// its status lines and messages go to stderr.

#include <string_view>

namespace berth::cli {

class Console {
 public:
  Console(int out_fd, int err_fd, bool quiet) : out_fd_(out_fd), err_fd_(err_fd), quiet_(quiet) {}

  void task_stdout(std::string_view data) const { write_all(out_fd_, data); }
  void task_stderr(std::string_view data) const { write_all(err_fd_, data); }
  // A task status line; --quiet silences these.
  void status(std::string_view line) const;
  // "berth: <text>", always shown: errors and what the CLI is doing about them.
  void notice(std::string_view text) const;

 private:
  // Writes everything, waiting out EAGAIN on a non-blocking descriptor; drops the
  // data if the reader has gone away (EPIPE), as there is no one left to tell.
  static void write_all(int fd, std::string_view data);

  int out_fd_;
  int err_fd_;
  bool quiet_;
};

}  // namespace berth::cli
