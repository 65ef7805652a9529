# Baton's container image: batond (the server) and baton (the CLI), on
# Debian 12 slim, running as a non-root user.
#
#   podman build --pull=never --format docker -t localhost/baton:dev .   # or: docker build -t baton:dev .
#   podman run --rm -p 127.0.0.1:7070:7070 localhost/baton:dev
#   baton --addr 127.0.0.1:7070 health
#
# batond listens on 0.0.0.0:7070 in the image. Every batond flag can be given
# as an argument (`... localhost/baton:dev --shards=2 --grace=5s`) or as a
# BATON_<FLAG> variable (`-e BATON_SHARDS=2`); the argument wins. Its fence
# state goes to /var/lib/baton (BATON_DATA_DIR): mount a volume there to keep
# fencing tokens increasing across container re-creation. SIGTERM drains:
# batond exits 0 after --grace (10 s by default), so give the engine a stop
# timeout above it (`podman stop -t 15`, compose `stop_grace_period`).
#
# `--format docker` matters with podman: its default OCI format drops
# HEALTHCHECK. deploy/test.sh builds and tests this image end to end.

# ---- build stage ----------------------------------------------------------
FROM debian:bookworm-slim AS build

# The build dependencies of scripts/deps.sh less what the image does not
# build: no tests (gtest/gmock), no benchmarks, no clang, no git. This layer
# only changes when this list does.
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      g++ cmake ninja-build pkg-config \
      libabsl-dev libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc \
      libspdlog-dev libyaml-cpp-dev libmicrohttpd-dev libleveldb-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*

# The sources (.dockerignore keeps out build trees, docs, tests, benches,
# deploy/ and this file, so editing them does not rebuild). Tests, benches
# and examples are not built.
WORKDIR /src
COPY . .
# .git stays out of the image: say the revision with
# --build-arg BATON_GIT_REVISION=$(git rev-parse --short=12 HEAD).
ARG BATON_GIT_REVISION=unknown
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DBATON_GIT_REVISION="${BATON_GIT_REVISION}" \
      -DBATON_BUILD_TESTS=OFF -DBATON_BUILD_BENCH=OFF -DBATON_BUILD_EXAMPLES=OFF >/dev/null \
 && ninja -C /build batond baton \
 && mkdir -p /out \
 && cp /build/server/batond/batond /build/client/cli/baton /out/ \
 && strip --strip-unneeded /out/batond /out/baton

# ---- runtime stage --------------------------------------------------------
FROM debian:bookworm-slim

# Only the shared libraries the two binaries link (found with ldd): gRPC
# (which brings libgrpc29, protobuf, c-ares, re2, OpenSSL, zlib; batond's TLS
# checks use that OpenSSL too), Abseil, and
# spdlog (batond's log, which brings fmt), LevelDB (the store of kept state,
# which brings snappy).
# libstdc++ and libgcc are in the base already. Docs, man pages and locales
# that the packages bring are dropped.
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libabsl20220623 libspdlog1.10 libyaml-cpp0.7 libmicrohttpd12 \
      libleveldb1d \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
      /usr/share/doc/* /usr/share/man/* /usr/share/locale/* \
 && groupadd --system --gid 10001 baton \
 && useradd --system --uid 10001 --gid baton --home-dir /var/lib/baton \
      --no-create-home --shell /usr/sbin/nologin baton \
 && install -d -o baton -g baton -m 0750 /var/lib/baton

COPY --from=build /out/batond /out/baton /usr/local/bin/
# Fail the build, not the first start, if a library is missing.
RUN ! ldd /usr/local/bin/batond /usr/local/bin/baton | grep 'not found'

# A numeric user, so Kubernetes' runAsNonRoot can check it.
USER 10001:10001
WORKDIR /var/lib/baton
# BATON_LISTEN and BATON_DATA_DIR are batond's; BATON_ADDR is the CLI's (the
# HEALTHCHECK's target, and what `baton` commands run inside this container
# talk to). If you move batond to another port, set BATON_ADDR to match.
ENV BATON_LISTEN=0.0.0.0:7070 \
    BATON_DATA_DIR=/var/lib/baton \
    BATON_ADDR=127.0.0.1:7070
# 7070: gRPC. 9090: Prometheus /metrics, when BATON_METRICS_LISTEN is set
# (e.g. 0.0.0.0:9090; off by default).
EXPOSE 7070 9090
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["baton", "health", "--connect-timeout", "2s"]
ENTRYPOINT ["batond"]
