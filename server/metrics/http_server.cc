// Copyright 2026 The Baton Authors.

#include "server/metrics/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/metrics/exposition.h"

namespace baton::metrics {

std::string ParseListenAddress(const std::string& listen, sockaddr_storage* address,
                               socklen_t* length) {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return "expected HOST:PORT";
  std::string host = listen.substr(0, colon);
  int port = 0;
  if (!absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return "the port must be a number in [0, 65535]";
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  *address = sockaddr_storage{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(address);
  if (host.empty() || host == "0.0.0.0" || host == "localhost") {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    v4->sin_addr.s_addr = htonl(host == "localhost" ? INADDR_LOOPBACK : INADDR_ANY);
    *length = sizeof *v4;
  } else if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    *length = sizeof *v4;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    *length = sizeof *v6;
  } else {
    return "the host must be an IPv4 or IPv6 address, localhost or empty";
  }
  return "";
}

namespace {

MHD_Result Respond(MHD_Connection* connection, unsigned int code, const std::string& body,
                   const char* content_type, const char* allow) {
  MHD_Response* response = MHD_create_response_from_buffer(
      body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  if (allow != nullptr) MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, allow);
  const MHD_Result result = MHD_queue_response(connection, code, response);
  MHD_destroy_response(response);
  return result;
}

MHD_Result Answer(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char* /*version*/, const char* /*upload_data*/,
                  size_t* upload_data_size, void** state) {
  // The first call for a request only announces its headers; a body (none
  // is expected) arrives in later calls and is skipped.
  static int announced;
  if (*state == nullptr) {
    *state = &announced;
    return MHD_YES;
  }
  if (*upload_data_size != 0) {
    *upload_data_size = 0;
    return MHD_YES;
  }
  const absl::string_view verb = method;
  if (verb != MHD_HTTP_METHOD_GET && verb != MHD_HTTP_METHOD_HEAD) {
    return Respond(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n",
                   "text/plain; charset=utf-8", "GET, HEAD");
  }
  if (absl::string_view(url) != "/metrics") {
    return Respond(connection, MHD_HTTP_NOT_FOUND, "not found: metrics are at /metrics\n",
                   "text/plain; charset=utf-8", nullptr);
  }
  const auto* server = static_cast<const MetricsHttpServer*>(cls);
  return Respond(connection, MHD_HTTP_OK, server->RenderBody(), kContentType, nullptr);
}

// Bind() makes the listening socket of `listen`; returns it, or why not.
absl::StatusOr<int> Bind(const std::string& listen) {
  const auto bad = [&listen](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("--metrics_listen=", listen, ": ", why));
  };
  sockaddr_storage address{};
  socklen_t length = 0;
  if (const std::string why = ParseListenAddress(listen, &address, &length); !why.empty()) {
    return bad(why);
  }
  const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  // SO_REUSEADDR lets a restart bind over connections in TIME_WAIT; it
  // never lets two listeners share a port (SO_REUSEPORT would: not set).
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(fd, 64) != 0) {
    const int error = errno;
    ::close(fd);
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on --metrics_listen=", listen, ": ",
        error == EADDRINUSE ? "address in use: another process (another batond?) listens there"
                            : std::strerror(error)));
  }
  return fd;
}

}  // namespace

absl::StatusOr<int> MetricsHttpServer::Start(const std::string& listen) {
  absl::StatusOr<int> fd = Bind(listen);
  if (!fd.ok()) return fd.status();
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  int port = 0;
  if (::getsockname(*fd, reinterpret_cast<sockaddr*>(&bound), &length) == 0) {
    port = bound.ss_family == AF_INET6
               ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
               : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  daemon_ = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0, nullptr, nullptr,
      &Answer, this, MHD_OPTION_LISTEN_SOCKET, static_cast<MHD_socket>(*fd),
      // Not shared with another process, ever (the socket is ours, bound
      // above without SO_REUSEPORT; this says the same to libmicrohttpd).
      MHD_OPTION_LISTENING_ADDRESS_REUSE, static_cast<unsigned int>(0),
      MHD_OPTION_CONNECTION_LIMIT, static_cast<unsigned int>(64),
      MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned int>(10),
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(64 * 1024), MHD_OPTION_END);
  if (daemon_ == nullptr) {
    ::close(*fd);
    return absl::InternalError(
        absl::StrCat("--metrics_listen=", listen, ": libmicrohttpd did not start"));
  }
  return port;
}

void MetricsHttpServer::Stop() {
  if (daemon_ == nullptr) return;
  MHD_stop_daemon(daemon_);  // closes the listening socket too
  daemon_ = nullptr;
}

}  // namespace baton::metrics
