// Copyright 2026 The Baton Authors.
//
// EtcdProcess starts /usr/bin/etcd (Debian's etcd-server 3.4) for the
// cluster tests: one member on free loopback ports and a temp data dir,
// killed and removed at the end. With Tls, its client URL speaks TLS
// (--cert-file, --key-file) and, with a trusted CA, requires a client
// certificate signed by it (--client-cert-auth); Ready() then asks /health
// on a plain metrics URL (--listen-metrics-urls) instead.
//
// Example:
//   EtcdProcess etcd;
//   ASSERT_TRUE(etcd.Ready()) << etcd.last_error();
//   BatondProcess node({"--cluster_etcd=" + etcd.endpoint(), ...});
//   etcd.Signal(SIGSTOP);
//
// Thread safety: the methods are for the test's thread.

#ifndef BATON_TESTS_TESTING_ETCD_PROCESS_H_
#define BATON_TESTS_TESTING_ETCD_PROCESS_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace baton::testing {

// FreePort() is a loopback TCP port free a moment ago.
inline int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t size = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  close(fd);
  return ntohs(address.sin_port);
}

class EtcdProcess {
 public:
  struct Tls {
    std::string cert_file;  // PEM, with SAN 127.0.0.1
    std::string key_file;
    std::string trusted_ca_file;  // set: clients must present a certificate it signed
  };

  explicit EtcdProcess(Tls tls = {}) : tls_(std::move(tls)) {
    char path[] = "/tmp/baton-etcd-XXXXXX";
    if (mkdtemp(path) != nullptr) dir_ = path;
    client_port_ = FreePort();
    do {
      peer_port_ = FreePort();
    } while (peer_port_ == client_port_);
    do {
      health_port_ = FreePort();
    } while (health_port_ == client_port_ || health_port_ == peer_port_);
    const bool secure = !tls_.cert_file.empty();
    const std::string client =
        std::string(secure ? "https" : "http") + "://127.0.0.1:" + std::to_string(client_port_);
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    std::vector<std::string> args = {"/usr/bin/etcd",
                                     "--data-dir=" + dir_ + "/data",
                                     "--listen-client-urls=" + client,
                                     "--advertise-client-urls=" + client,
                                     "--listen-peer-urls=" + peer,
                                     "--initial-advertise-peer-urls=" + peer,
                                     "--initial-cluster=default=" + peer,
                                     "--log-level=error"};
    if (secure) {
      args.push_back("--cert-file=" + tls_.cert_file);
      args.push_back("--key-file=" + tls_.key_file);
      args.push_back("--listen-metrics-urls=http://127.0.0.1:" + std::to_string(health_port_));
      if (!tls_.trusted_ca_file.empty()) {
        args.push_back("--trusted-ca-file=" + tls_.trusted_ca_file);
        args.push_back("--client-cert-auth");
      }
    } else {
      health_port_ = client_port_;
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;
  ~EtcdProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGCONT);
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // HOST:PORT of the client URL, as --cluster_etcd takes it.
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(client_port_); }
  void Signal(int signal) { kill(pid_, signal); }
  // What the last health check answered, when Ready() failed.
  const std::string& last_error() const { return last_error_; }

  // Ready() waits until etcd says it is healthy (GET /health, plain
  // HTTP/1.0 on a socket: a gRPC channel would back off).
  bool Ready() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.sin_port = htons(static_cast<std::uint16_t>(health_port_));
      std::string answer;
      if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
        const std::string request = "GET /health HTTP/1.0\r\n\r\n";
        if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
          char buffer[1024];
          ssize_t n;
          while ((n = read(fd, buffer, sizeof(buffer))) > 0) answer.append(buffer, n);
        }
      }
      close(fd);
      if (answer.find("\"health\":\"true\"") != std::string::npos) return true;
      last_error_ = answer;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a start
    }
    return false;
  }

 private:
  const Tls tls_;
  std::string dir_;
  int client_port_ = 0;
  int peer_port_ = 0;
  int health_port_ = 0;  // the client port, or the metrics port with TLS
  std::string last_error_;
  pid_t pid_ = -1;
};

}  // namespace baton::testing

#endif  // BATON_TESTS_TESTING_ETCD_PROCESS_H_
