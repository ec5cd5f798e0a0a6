// Spawns a plugin runner with posix_spawn over a socket pair, matches replies to calls, reaps it when it ends.
#include "plugins/isolation/runner_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string_view>
#include <thread>

extern char** environ;

namespace quanqu::plugins {

std::string signal_name(int signal) {
  switch (signal) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGABRT:
      return "SIGABRT";
    case SIGKILL:
      return "SIGKILL";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGTERM:
      return "SIGTERM";
    case SIGXCPU:
      return "SIGXCPU";
    case SIGPIPE:
      return "SIGPIPE";
    case SIGTRAP:
      return "SIGTRAP";
    case SIGSYS:
      return "SIGSYS";
    default:
      return "signal " + std::to_string(signal);
  }
}

namespace {

// The fd the runner finds its end of the socket on (the first after stdin, stdout, stderr).
constexpr int kRunnerFd = 3;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::shared_ptr<RunnerProcess> RunnerProcess::spawn(const std::filesystem::path& runner, const std::string& plugin,
                                                    const RunnerLimits& limits, FrameHandler on_frame,
                                                    ExitHandler on_exit, std::string& reason) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    reason = std::string("cannot make a socket pair for the runner: ") + std::strerror(errno);
    return nullptr;
  }
  // The child's end must not already be kRunnerFd: dup2 onto itself would keep close-on-exec.
  int child = ::fcntl(fds[1], F_DUPFD_CLOEXEC, 10);
  ::close(fds[1]);
  if (child < 0) {
    ::close(fds[0]);
    reason = std::string("cannot prepare the runner's socket: ") + std::strerror(errno);
    return nullptr;
  }

  std::vector<std::string> args = {runner.string(),
                                   "--fd",
                                   std::to_string(kRunnerFd),
                                   "--plugin",
                                   plugin,
                                   "--parent",
                                   std::to_string(::getpid()),
                                   "--max-open-files",
                                   std::to_string(limits.open_files)};
  if (limits.address_space_bytes) {
    args.push_back("--max-address-space");
    args.push_back(std::to_string(limits.address_space_bytes));
  }
  if (limits.cpu_ms_per_call) {
    args.push_back("--max-cpu-ms-per-call");
    args.push_back(std::to_string(limits.cpu_ms_per_call));
  }
  if (limits.cpu_seconds) {
    args.push_back("--max-cpu-seconds");
    args.push_back(std::to_string(limits.cpu_seconds));
  }
  if (limits.network == RunnerNetwork::none) args.push_back("--deny-network");
  if (limits.network == RunnerNetwork::declared) {
    args.push_back("--outgoing");  // an empty list: connect() reaches nothing
    std::string list;
    for (const auto& h : limits.outgoing_hosts) list += (list.empty() ? "" : ",") + h.text();
    args.push_back(list);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The server's environment without its own settings (QUANQU_ADMIN_KEY, QUANQU_DATABASE_URL, ...)
  // and the PostgreSQL client's: a plugin must not read the server's secrets from getenv().
  std::vector<char*> envp;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    if (entry.starts_with("QUANQU_") || entry.starts_with("PGPASSWORD=") || entry.starts_with("PGPASSFILE=") ||
        entry.starts_with("DATABASE_URL="))
      continue;
    envp.push_back(*e);
  }
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, child, kRunnerFd);
  posix_spawn_file_actions_addclosefrom_np(&actions, kRunnerFd + 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Default signal dispositions and an empty mask in the child, whatever the server blocks.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(child);
  if (rc != 0) {
    ::close(fds[0]);
    reason = "cannot start the plugin runner " + runner.string() + ": " + std::strerror(rc);
    return nullptr;
  }

  std::shared_ptr<RunnerProcess> p(new RunnerProcess);
  p->pid_ = pid;
  p->channel_ = std::make_unique<wire::Channel>(fds[0]);
  p->on_frame_ = std::move(on_frame);
  p->on_exit_ = std::move(on_exit);
  try {
    std::thread([self = p] { self->read_loop(); }).detach();
  } catch (const std::exception& e) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    reason = std::string("cannot start the runner's reader thread: ") + e.what();
    return nullptr;
  }
  return p;
}

RunnerProcess::~RunnerProcess() = default;  // only after read_loop ended: the runner is reaped

void RunnerProcess::read_loop() {
  wire::Frame frame;
  while (channel_->receive(frame)) {
    if (frame.kind == wire::Kind::reply) {
      std::optional<std::promise<std::optional<std::string>>> waiter;
      {
        std::lock_guard lock(mutex_);
        auto it = pending_.find(frame.id);
        if (it != pending_.end()) {
          waiter = std::move(it->second);
          pending_.erase(it);
        }
      }
      if (waiter) waiter->set_value(std::move(frame.payload));
    } else if (frame.kind == wire::Kind::host_call || frame.kind == wire::Kind::log) {
      if (on_frame_) on_frame_(std::move(frame));
      frame = {};
    } else {
      break;  // a runner that speaks out of turn is broken: end it
    }
  }
  // The connection ended: the runner died, closed its socket, or broke the protocol. Make sure
  // it is gone, reap it, and fail whatever still waits for it.
  {
    std::lock_guard lock(mutex_);  // kill() signals only under this lock while alive_: never a reaped pid
    alive_ = false;
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  RunnerExit exit;
  exit.at_ms = now_ms();
  if (WIFSIGNALED(status)) exit.signal = WTERMSIG(status);
  if (WIFEXITED(status)) exit.exit_code = WEXITSTATUS(status);
  std::unordered_map<std::uint64_t, std::promise<std::optional<std::string>>> orphans;
  {
    std::lock_guard lock(mutex_);
    exit.reason = kill_reason_;
    exit.expected = expected_.load();
    // A runner that closed its end and exited cleanly on its own is still a crash for the plugin,
    // unless the server asked it to stop: the kill above then shows as SIGKILL.
    exit_ = exit;
    orphans.swap(pending_);
  }
  for (auto& [id, waiter] : orphans) waiter.set_value(std::nullopt);
  channel_->shutdown();
  if (on_exit_) on_exit_(exit);
  on_frame_ = nullptr;
  on_exit_ = nullptr;
}

std::optional<std::string> RunnerProcess::call(wire::Kind kind, std::string_view payload) {
  std::future<std::optional<std::string>> answer;
  std::uint64_t id = next_id_.fetch_add(1);
  {
    std::lock_guard lock(mutex_);
    if (!alive_) return std::nullopt;
    answer = pending_[id].get_future();
  }
  if (!channel_->send(kind, id, payload)) {
    std::lock_guard lock(mutex_);
    pending_.erase(id);  // the reader fails the others when it sees the end
    return std::nullopt;
  }
  return answer.get();
}

void RunnerProcess::reply(std::uint64_t id, std::string_view payload) {
  if (alive_) channel_->send(wire::Kind::reply, id, payload);
}

void RunnerProcess::kill(const std::string& reason, bool expected) {
  std::lock_guard lock(mutex_);
  if (!alive_ || !kill_reason_.empty()) return;
  kill_reason_ = reason;
  if (expected) expected_ = true;
  ::kill(pid_, SIGKILL);  // alive_ under the lock: not reaped yet, so the pid is still ours
}

std::optional<RunnerExit> RunnerProcess::exit_info() const {
  std::lock_guard lock(mutex_);
  return exit_;
}

}  // namespace quanqu::plugins
