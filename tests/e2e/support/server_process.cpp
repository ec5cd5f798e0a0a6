// posix_spawn of the server with piped stdout/stderr, a poll() reader thread, and per-test databases.
#include "support/server_process.h"

#include <libpq-fe.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>
#include <stdexcept>

#ifndef QUANQU_BINARY
#error "QUANQU_BINARY must name the quanqu executable"
#endif

extern char** environ;

namespace quanqu::e2e {
namespace {

using namespace std::chrono_literals;

constexpr auto kStartupTimeout = 20s;
constexpr auto kStopTimeout = 10s;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string random_hex(std::size_t bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::random_device rd;
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    auto b = rd() & 0xFF;
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

std::string backend_name() {
  auto b = env("QUANQU_TEST_BACKEND");
  return b.empty() ? "sqlite" : b;
}

// The same postgresql:// URI with its database (path) replaced.
std::string with_database(const std::string& uri, const std::string& database) {
  auto scheme = uri.find("://");
  if (scheme == std::string::npos)
    throw std::runtime_error("QUANQU_TEST_POSTGRES_URL must be a postgresql:// URI, got \"" + uri + "\"");
  auto pos = uri.find_first_of("/?", scheme + 3);
  if (pos == std::string::npos) return uri + "/" + database;
  if (uri[pos] == '?') return uri.substr(0, pos) + "/" + database + uri.substr(pos);
  auto end = uri.find('?', pos);
  return uri.substr(0, pos) + "/" + database + (end == std::string::npos ? "" : uri.substr(end));
}

// Runs one statement on the maintenance database; the error message, or "" on success.
std::string exec_sql(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = std::string("cannot connect: ") + PQerrorMessage(conn);
  } else {
    PGresult* res = PQexec(conn, sql.c_str());
    if (PQresultStatus(res) != PGRES_COMMAND_OK) error = PQresultErrorMessage(res);
    PQclear(res);
  }
  PQfinish(conn);
  return error;
}

}  // namespace

bool ServerProcess::backend_available(std::string* why) {
  if (backend_name() == "postgresql" && env("QUANQU_TEST_POSTGRES_URL").empty()) {
    if (why) *why = "QUANQU_TEST_BACKEND=postgresql but QUANQU_TEST_POSTGRES_URL is not set";
    return false;
  }
  return true;
}

std::string ServerProcess::make_admin_key() { return "qq_admin_" + random_hex(16); }

ServerProcess::ServerProcess(std::vector<std::string> extra_args) : ServerProcess(Launch{std::move(extra_args)}) {}

ServerProcess::ServerProcess(Launch launch) : backend_(backend_name()) {
  if (backend_ != "sqlite" && backend_ != "postgresql")
    throw std::runtime_error("unknown QUANQU_TEST_BACKEND \"" + backend_ + "\" (expected sqlite or postgresql)");
  if (launch.pass_admin_key) admin_key_ = make_admin_key();
  try {
    if (launch.database_url.empty())
      create_database();
    else
      database_url_ = launch.database_url;
    std::vector<std::string> args = {QUANQU_BINARY, "serve",  "--host",     "127.0.0.1",   "--port",
                                     "0",           "--demo", "--database", database_url_};
    if (launch.pass_admin_key) args.insert(args.end(), {"--admin-key", admin_key_});
    const auto& extra = launch.extra_args;
    // --threads 4 unless the test chose its own.
    if (std::find(extra.begin(), extra.end(), "--threads") == extra.end()) args.insert(args.end(), {"--threads", "4"});
    args.insert(args.end(), extra.begin(), extra.end());
    spawn(args);

    std::unique_lock lock(mutex_);
    bool ready = changed_.wait_for(lock, kStartupTimeout, [&] { return saw_listening_ || pipes_closed_; });
    if (!ready || !saw_listening_ || !saw_keys_) {
      std::string why = !ready           ? "was not listening after 20 s"
                        : !saw_listening_ ? "exited before it was listening"
                                          : "printed \"listening\" without a \"demo keys\" line first";
      std::string out = output_;
      lock.unlock();
      throw std::runtime_error(std::string("quanqu server (") + QUANQU_BINARY + ") " + why + "; output so far:\n" + out);
    }
  } catch (...) {
    stop();
    drop_database();
    throw;
  }
}

ServerProcess::~ServerProcess() {
  stop();
  drop_database();
}

void ServerProcess::create_database() {
  if (backend_ == "sqlite") {
    std::string base = env("TMPDIR");
    std::string pattern = (base.empty() ? std::string("/tmp") : base) + "/quanqu-e2e-XXXXXX";
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
    temp_dir_ = pattern;
    database_url_ = "sqlite:" + temp_dir_ + "/quanqu.db";
    return;
  }
  maintenance_url_ = env("QUANQU_TEST_POSTGRES_URL");
  auto name = "qq_test_" + random_hex(8);
  auto url = with_database(maintenance_url_, name);
  auto error = exec_sql(maintenance_url_, "CREATE DATABASE " + name);
  if (!error.empty()) throw std::runtime_error("CREATE DATABASE " + name + " on QUANQU_TEST_POSTGRES_URL failed: " + error);
  database_name_ = name;
  database_url_ = url;
}

void ServerProcess::drop_database() {
  if (!temp_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(temp_dir_, ec);
    temp_dir_.clear();
  }
  if (!database_name_.empty()) {
    auto error = exec_sql(maintenance_url_, "DROP DATABASE IF EXISTS " + database_name_ + " WITH (FORCE)");
    if (!error.empty()) error = exec_sql(maintenance_url_, "DROP DATABASE IF EXISTS " + database_name_);  // before PG 13
    if (!error.empty()) std::cerr << "e2e: could not drop database " << database_name_ << ": " << error << "\n";
    database_name_.clear();
  }
}

void ServerProcess::spawn(const std::vector<std::string>& args) {
  if (::access(QUANQU_BINARY, X_OK) != 0)
    throw std::runtime_error(std::string("the quanqu executable is missing: ") + QUANQU_BINARY);
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);  // dup2 clears close-on-exec on 1 and 2
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  // Nothing else the test process holds (a fake gateway's listening socket, other servers'
  // pipes) leaks into the server: a stopped fake must refuse connections, not hang them.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  // The child starts with no blocked signals and default SIGTERM/SIGINT/SIGPIPE handling,
  // whatever this test process has done to its own.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGTERM, SIGINT, SIGPIPE}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, QUANQU_BINARY, &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    throw std::runtime_error(std::string("posix_spawn ") + QUANQU_BINARY + ": " + std::strerror(rc));
  }
  pid_ = pid;
  reader_ = std::thread([this, o = out[0], e = err[0]] { reader_loop(o, e); });
}

void ServerProcess::reader_loop(int out_fd, int err_fd) {
  std::string partial[2];
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_count = 2;
  char buf[8192];
  while (open_count > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (!partial[i].empty()) on_line(partial[i], i == 1);
        ::close(fds[i].fd);
        fds[i].fd = -1;  // poll ignores negative descriptors
        --open_count;
        continue;
      }
      partial[i].append(buf, static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (auto nl = partial[i].find('\n'); nl != std::string::npos; nl = partial[i].find('\n', start)) {
        on_line(partial[i].substr(start, nl - start), i == 1);
        start = nl + 1;
      }
      partial[i].erase(0, start);
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  std::lock_guard lock(mutex_);
  pipes_closed_ = true;
  changed_.notify_all();
}

void ServerProcess::on_line(const std::string& line, bool from_stderr) {
  std::lock_guard lock(mutex_);
  if (from_stderr) output_ += "stderr: ";
  output_ += line;
  output_ += '\n';
  if (from_stderr || saw_listening_) return;
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) return;
  const nlohmann::json json_null;
  auto msg = j["msg"].is_string() ? j["msg"].get<std::string>() : std::string();
  if (msg == "demo keys" && j.value("publishable_key", json_null).is_string()) {
    publishable_key_ = j["publishable_key"].get<std::string>();
    saw_keys_ = true;
  } else if (msg == "listening" && j.contains("port") && j["port"].is_number_unsigned()) {
    port_ = j["port"].get<unsigned short>();
    saw_listening_ = true;
    changed_.notify_all();
  }
}

HttpClient ServerProcess::client() const {
  HttpClient c("127.0.0.1", port_);
  c.set_recording(true);
  return c;
}

std::string ServerProcess::output() const {
  std::lock_guard lock(mutex_);
  return output_;
}

int ServerProcess::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    bool gone = false;  // reaped (or, impossibly, not our child): never signal that PID again
    auto deadline = std::chrono::steady_clock::now() + kStopTimeout;
    while (!gone && std::chrono::steady_clock::now() < deadline) {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      gone = r == pid_ || (r < 0 && errno != EINTR);
      if (!gone) std::this_thread::sleep_for(10ms);
    }
    if (!gone) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
    pid_ = -1;
  }
  if (reader_.joinable()) reader_.join();
  return exit_status_;
}

}  // namespace quanqu::e2e
