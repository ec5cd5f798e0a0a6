// Runs the real quanqu executable as a child process on a fresh database, for end-to-end tests.
#pragma once

#include "support/http_client.h"

#include <sys/types.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace quanqu::e2e {

// The database backend comes from the environment:
//   QUANQU_TEST_BACKEND=sqlite (the default): a sqlite:<dir>/quanqu.db file in a fresh mkdtemp
//     directory (under $TMPDIR or /tmp), removed by the destructor.
//   QUANQU_TEST_BACKEND=postgresql: QUANQU_TEST_POSTGRES_URL (a postgresql:// URI naming a
//     server and a maintenance database, e.g. postgresql://postgres@127.0.0.1:5432/postgres)
//     is used to CREATE DATABASE qq_test_<random hex>; the server gets the same URI with that
//     database, which the destructor drops (WITH (FORCE)).
//
// The child runs `QUANQU_BINARY serve --host 127.0.0.1 --port 0 --demo --database <url>
// --admin-key <make_admin_key()> --threads 4 <extra args...>` (without --threads 4 when the extra
// args hold their own --threads). Its stdout is read as JSON lines
// (stderr is captured too, each line prefixed "stderr: "); start-up waits for the
// {"msg":"demo keys","publishable_key":..} line and then the {"msg":"listening","port":N} line. A background thread keeps draining both pipes for the
// life of the child, so it never blocks on a full pipe.
class ServerProcess {
 public:
  // False, with the reason in *why, when the configured backend cannot be used here (the
  // PostgreSQL backend without QUANQU_TEST_POSTGRES_URL); fixtures GTEST_SKIP() then.
  static bool backend_available(std::string* why);

  // A fresh random admin key: "qq_admin_" followed by 32 hex digits.
  static std::string make_admin_key();

  // How to start the child, when the defaults above are not what a test needs.
  struct Launch {
    std::vector<std::string> extra_args;
    // False: no --admin-key, so the server makes its own (admin_key() is then empty).
    bool pass_admin_key = true;
    // Non-empty: serve this existing database (a restart); it is neither created nor dropped here.
    std::string database_url;
  };

  // Creates the database and starts the server. Throws std::runtime_error on an unknown
  // backend, a database that cannot be created, a child that fails to start, exits, or is not
  // listening within 20 s; the message includes the child's output so far.
  explicit ServerProcess(std::vector<std::string> extra_args = {});
  explicit ServerProcess(Launch launch);
  // Stops the child if it is running, drops the database or removes the directory.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  unsigned short port() const { return port_; }
  const std::string& admin_key() const { return admin_key_; }
  const std::string& publishable_key() const { return publishable_key_; }
  const std::string& database_url() const { return database_url_; }
  const std::string& backend() const { return backend_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // A new client for this server (no default headers), recording its exchanges (ExchangeLog).
  HttpClient client() const;

  // Everything the child has written so far (stdout lines as is, stderr lines prefixed).
  std::string output() const;

  // SIGTERM, then waits up to 10 s for the child to exit, then SIGKILLs it (by PID). Returns
  // the exit code, 128 + the signal number if it was killed by a signal, or the status of an
  // earlier stop() when it is no longer running.
  int stop();

 private:
  void create_database();
  void drop_database();
  void spawn(const std::vector<std::string>& args);
  void reader_loop(int out_fd, int err_fd);
  void on_line(const std::string& line, bool from_stderr);

  std::string backend_;
  std::string database_url_;
  std::string database_name_;  // PostgreSQL only
  std::string maintenance_url_;  // PostgreSQL only
  std::string temp_dir_;       // SQLite only
  std::string admin_key_;
  std::string publishable_key_;
  unsigned short port_ = 0;
  pid_t pid_ = -1;
  int exit_status_ = -1;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string output_;
  bool saw_keys_ = false;
  bool saw_listening_ = false;
  bool pipes_closed_ = false;
  std::thread reader_;
};

}  // namespace quanqu::e2e
