// Copyright 2026 The Baton Authors.
//
// MetricsHttpServer serves GET/HEAD /metrics on libmicrohttpd: the body is
// what the render function returns, with the Prometheus text format's
// Content-Type. Other paths are 404, other methods 405.
//
//   MetricsHttpServer server([&] { return RenderMetrics(...); });
//   absl::StatusOr<int> port = server.Start("0.0.0.0:9090");
//
// The listening socket is bound here, with SO_REUSEADDR but never
// SO_REUSEPORT, and handed to libmicrohttpd: a port something listens on
// already is refused (EADDRINUSE), as batond's --listen is.
//
// Threading: Start() and Stop() from one thread. The render function runs
// on libmicrohttpd's thread, one scrape at a time.

#ifndef BATON_SERVER_METRICS_HTTP_SERVER_H_
#define BATON_SERVER_METRICS_HTTP_SERVER_H_

#include <sys/socket.h>

#include <functional>
#include <string>

#include "absl/status/statusor.h"

struct MHD_Daemon;

namespace baton::metrics {

// ParseListenAddress() fills `address` and `length` from HOST:PORT (an IPv4
// or [IPv6] address, localhost, or empty for every address); "" when it
// parses, else what is wrong. Shared by every listener batond binds or
// checks itself.
std::string ParseListenAddress(const std::string& listen, sockaddr_storage* address,
                               socklen_t* length);

class MetricsHttpServer {
 public:
  using Render = std::function<std::string()>;

  explicit MetricsHttpServer(Render render) : render_(std::move(render)) {}
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;
  ~MetricsHttpServer() { Stop(); }

  // Start() listens on `listen` (HOST:PORT, an IPv4 or [IPv6] address,
  // "localhost" or an empty host for every address; port 0 picks one) and
  // returns the port bound. UNAVAILABLE (address in use) or
  // INVALID_ARGUMENT (a bad address), naming the address.
  absl::StatusOr<int> Start(const std::string& listen);

  // Stop() closes the port and waits for a scrape under way.
  void Stop();

  // Render() as served; for libmicrohttpd's callback.
  std::string RenderBody() const { return render_(); }

 private:
  Render render_;
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace baton::metrics

#endif  // BATON_SERVER_METRICS_HTTP_SERVER_H_
