// The server's side of one plugin runner process: spawns it, sends it calls, hands its host calls over, sees it die.
#pragma once

#include "plugins/isolation/wire.h"
#include "plugins/outgoing_hosts.h"

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace quanqu::plugins {

// The network a runner has.
enum class RunnerNetwork {
  open,      // the server's network
  declared,  // the server's network, but connect() reaches only RunnerLimits::outgoing_hosts
  none,      // a new, empty network namespace (when the kernel allows it)
};

// What a runner may use, set on itself with setrlimit before it loads the plugin's library.
struct RunnerLimits {
  std::uint64_t address_space_bytes = 0;  // RLIMIT_AS; 0 leaves it unlimited
  std::uint64_t open_files = 256;         // RLIMIT_NOFILE
  std::uint64_t cpu_seconds = 0;          // RLIMIT_CPU over the runner's life; 0 leaves it unlimited
  std::uint64_t cpu_ms_per_call = 0;      // CPU time of the thread serving one call; past it SIGXCPU ends the runner; 0: none
  RunnerNetwork network = RunnerNetwork::open;
  std::vector<OutgoingHost> outgoing_hosts;  // RunnerNetwork::declared: what connect() may reach
};

// How a runner ended.
struct RunnerExit {
  int signal = 0;      // the signal that ended it, 0 if it exited
  int exit_code = -1;  // its exit status when it exited
  std::string reason;  // why the server killed it ("deadline", "stopped", ...), empty when it died by itself
  std::int64_t at_ms = 0;
  bool expected = false;  // the server asked it to stop (or killed it on purpose)
};

// "SIGSEGV" for 11, "signal 77" for what has no name.
std::string signal_name(int signal);

// One runner process and its connection. Made by spawn(); lives as long as someone holds it and
// its reader thread runs (until the connection ends). Thread-safe.
class RunnerProcess : public std::enable_shared_from_this<RunnerProcess> {
 public:
  // A host call or a log line from the runner (kind host_call or log), given on the reader
  // thread: it must hand the work to another thread and return (answering later with reply()).
  using FrameHandler = std::function<void(wire::Frame frame)>;
  // Called once, on the reader thread, after the runner has ended and been reaped.
  using ExitHandler = std::function<void(const RunnerExit& exit)>;

  // Starts `runner` (the quanqu-plugin-runner executable) for `plugin`; the handlers are set
  // before it can send anything. nullptr with `reason` when the process cannot be made.
  static std::shared_ptr<RunnerProcess> spawn(const std::filesystem::path& runner, const std::string& plugin,
                                              const RunnerLimits& limits, FrameHandler on_frame,
                                              ExitHandler on_exit, std::string& reason);
  ~RunnerProcess();

  // Sends a call and blocks for its reply payload; nullopt when the runner is gone, or goes,
  // before replying. The caller's deadline is enforced by whoever kills the runner.
  std::optional<std::string> call(wire::Kind kind, std::string_view payload);
  // Answers the runner's host call `id`.
  void reply(std::uint64_t id, std::string_view payload);

  // Ends the runner now (SIGKILL); the calls in flight get nullopt. `reason` is recorded.
  void kill(const std::string& reason, bool expected = false);
  // Marks the coming end as asked for (after a stop call), so it is not counted as a crash.
  void expect_exit() { expected_ = true; }

  bool alive() const { return alive_.load(); }
  pid_t pid() const { return pid_; }
  std::optional<RunnerExit> exit_info() const;

 private:
  RunnerProcess() = default;
  void read_loop();

  pid_t pid_ = -1;
  std::unique_ptr<wire::Channel> channel_;
  FrameHandler on_frame_;
  ExitHandler on_exit_;
  std::atomic<bool> alive_{true};
  std::atomic<bool> expected_{false};
  std::atomic<std::uint64_t> next_id_{1};
  mutable std::mutex mutex_;  // guards pending_, kill_reason_, exit_
  std::unordered_map<std::uint64_t, std::promise<std::optional<std::string>>> pending_;
  std::string kill_reason_;
  std::optional<RunnerExit> exit_;
};

}  // namespace quanqu::plugins
