#!/usr/bin/env bash
# Installs what Baton needs from Debian 12's packages. Idempotent and quick
# when everything is there already. Needs root (or sudo).
#
#   scripts/deps.sh          # to build and test everything (scripts/test.sh)
#   scripts/deps.sh --run    # only what building and running batond needs (scripts/run.sh)
set -euo pipefail

run_packages=(
  build-essential cmake ninja-build pkg-config git
  libabsl-dev libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libspdlog-dev libyaml-cpp-dev libmicrohttpd-dev libleveldb-dev libssl-dev
)
test_packages=(
  clang libgtest-dev libgmock-dev libbenchmark-dev
  # libFuzzer and the sanitizers' runtimes for clang-14 (scripts/fuzz.sh):
  # only recommended by clang-14, so named here.
  libclang-rt-14-dev
  # The Python client's tests (client/python) and its benchmark
  # (bench/python): Debian's grpcio and protobuf, pytest, redis-py and the
  # redis-server it is compared with.
  python3-grpcio python3-protobuf python3-pytest python3-redis redis-server
  # The TLS tests make their certificates with the openssl command
  # (tests/testing/make_test_certs.sh; deploy/test.sh too).
  openssl
  # The cluster tests (ctest -L cluster) start an etcd 3.4 of their own.
  etcd-server
)

packages=("${run_packages[@]}")
if [[ ${1:-} != --run ]]; then packages+=("${test_packages[@]}"); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "deps: installing ${missing[*]} (Debian packages; a minute or two)" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
echo "deps: done" >&2
