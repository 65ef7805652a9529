#!/usr/bin/env bash
# Container test: builds the image from the Dockerfile with podman or docker,
# starts it as a user would (port published on 127.0.0.1, read-only root
# filesystem, fence state on a tmpfs, flags from BATON_* variables), waits
# for its HEALTHCHECK, runs `baton` commands from the host against it (a
# lock, a rate limit, describe), then sends SIGTERM with a session open and
# checks that batond drains and exits 0 within its grace period. Then it runs
# the image once more with mTLS on (certificates made on the host by openssl,
# mounted read-only): its HEALTHCHECK, a lock over mTLS from the host, and a
# plaintext client refused.
#
#   bash deploy/test.sh                 # .ci/run calls it this way
#   BATON_CLI=path/to/baton bash deploy/test.sh   # use this CLI on the host
#   BATON_ENGINE=docker bash deploy/test.sh       # force an engine
#
# The `baton` run on the host is, unless BATON_CLI says otherwise, the one
# from the image (copied out: the host is Debian 12 like the image, and CI has
# its libraries installed by scripts/deps.sh); if it cannot run here, it is
# built in build-ct/. Podman is set up offline by scripts/podman-offline.sh
# (installs podman, imports a local debian:bookworm-slim made with
# debootstrap). Ends with "N passed, 0 failed".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start=$SECONDS
image=${BATON_IMAGE:-localhost/baton:test}
grace=3            # BATON_GRACE of the container under test, seconds
name=baton-test-$$
passed=0
failed=0

log() { echo "deploy/test: $*" >&2; }
pass() { passed=$((passed + 1)); log "ok: $*"; }
fail() { failed=$((failed + 1)); log "FAILED: $*"; }
die() { log "FATAL: $*"; exit 1; }

# ---- engine ----------------------------------------------------------------
engine=${BATON_ENGINE:-}
if [[ -z $engine ]]; then
  if ! command -v podman >/dev/null && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    engine=docker
  else
    engine=podman
  fi
fi
build_flags=()
if [[ $engine == podman ]]; then
  # podman, and a debian:bookworm-slim image made from Debian's mirror when
  # there is none (no registry needed).
  bash "$root/scripts/podman-offline.sh" >&2
  # --format docker keeps the HEALTHCHECK (OCI images have none).
  build_flags=(--pull=never --format docker)
fi

tmp=$(mktemp -d)
bg_pids=()
cleanup() {
  local pid
  for pid in "${bg_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  $engine rm -f "$name" >/dev/null 2>&1 || true
  $engine rm -f "$name-cli" >/dev/null 2>&1 || true
  $engine rm -f "$name-tls" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# ---- build -----------------------------------------------------------------
log "building $image with $engine"
t=$SECONDS
revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
$engine build "${build_flags[@]}" --build-arg "BATON_GIT_REVISION=$revision" -t "$image" . \
  >"$tmp/build.log" 2>&1 || {
  tail -40 "$tmp/build.log" >&2
  die "image build failed"
}
size=$($engine image inspect --format '{{.Size}}' "$image")
log "image built in $((SECONDS - t)) s, $((size / 1000000)) MB"

# ---- the baton CLI on the host -------------------------------------------------
cli=${BATON_CLI:-}
if [[ -z $cli ]]; then
  $engine create --name "$name-cli" "$image" >/dev/null 2>&1
  $engine cp "$name-cli:/usr/local/bin/baton" "$tmp/baton"
  $engine rm "$name-cli" >/dev/null 2>&1
  cli=$tmp/baton
  if ! "$cli" --help >/dev/null 2>&1; then
    log "the image's baton does not run on this host; building it in build-ct/"
    bash scripts/deps.sh
    cmake -S . -B build-ct -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DBATON_BUILD_TESTS=OFF -DBATON_BUILD_BENCH=OFF -DBATON_BUILD_EXAMPLES=OFF >/dev/null
    ninja -C build-ct baton >/dev/null
    cli=$root/build-ct/client/cli/baton
  fi
fi

# ---- start -----------------------------------------------------------------
# As in Kubernetes: read-only root filesystem, the data dir writable (here a
# tmpfs owned by the image's user), no capabilities. The flags come from the
# environment, and one from the command line.
if [[ $engine == podman ]]; then
  # U: owned by the container's user. No health timer: podman would want
  # systemd for it; the test runs the HEALTHCHECK itself.
  run_flags=(--tmpfs /var/lib/baton:rw,size=1m,mode=0750,U --health-interval=disable)
else
  run_flags=(--tmpfs /var/lib/baton:rw,size=1m,mode=0750,uid=10001,gid=10001)
fi
$engine run -d --name "$name" \
  -p 127.0.0.1::7070 \
  --read-only "${run_flags[@]}" \
  --cap-drop=ALL --security-opt=no-new-privileges \
  -e BATON_GRACE=${grace}s -e BATON_SHARDS=2 \
  "$image" --max_sessions=100 >"$tmp/run.log" 2>&1 || {
  cat "$tmp/run.log" >&2
  die "$engine run failed"
}
hostport=$($engine port "$name" 7070/tcp | head -1)
hostport=${hostport/0.0.0.0/127.0.0.1}
addr=127.0.0.1:${hostport##*:}
export BATON_ADDR=$addr
log "batond published on $addr"

healthy() {
  if [[ $engine == podman ]]; then
    podman healthcheck run "$name" >/dev/null 2>&1
  else
    [[ $(docker inspect --format '{{.State.Health.Status}}' "$name") == healthy ]]
  fi
}
t=$SECONDS
until healthy; do
  if [[ $($engine inspect --format '{{.State.Running}}' "$name") != true ]]; then
    $engine logs "$name" >&2 || true
    die "batond exited"
  fi
  ((SECONDS - t < 40)) || { $engine logs "$name" >&2; die "not healthy after 40 s"; }
  sleep 0.5
done
pass "healthy after $((SECONDS - t)) s (the image's HEALTHCHECK: baton health)"

logs=$($engine logs "$name" 2>&1)
if grep -q 'listening on 0.0.0.0:7070' <<<"$logs"; then pass "listens on 0.0.0.0:7070"; else fail "listen address: $logs"; fi
if grep -q 'plaintext gRPC on a non-loopback address' <<<"$logs"; then
  pass "plaintext on 0.0.0.0 is warned about"
else
  fail "no warning for plaintext on 0.0.0.0: $logs"
fi
uid=$($engine exec "$name" id -u)
if [[ $uid == 10001 ]]; then pass "runs as uid 10001"; else fail "runs as uid $uid"; fi

# ---- baton commands from the host -------------------------------------------
if "$cli" health >/dev/null; then pass "baton health from the host"; else fail "baton health from the host"; fi

# A lock: a command runs under it; while one holds it, another cannot take it.
if "$cli" lock ct/lock --timeout 5s -- sh -c "echo ran >'$tmp/lock.out'" && [[ $(cat "$tmp/lock.out") == ran ]]; then
  pass "baton lock runs its command"
else
  fail "baton lock runs its command"
fi
"$cli" lock ct/lock --timeout 5s -- sh -c "touch '$tmp/held'; sleep 3" &
bg_pids+=($!)
holder=$!
for _ in $(seq 50); do [[ -e $tmp/held ]] && break; sleep 0.1; done
code=0; "$cli" lock ct/lock --timeout 200ms -- true 2>/dev/null || code=$?
if [[ $code == 3 ]]; then
  pass "a second holder times out (exit 3) while ct/lock is held"
else
  fail "a second holder of ct/lock: exit $code, expected 3 (timed out)"
fi
describe=$("$cli" describe ct/lock 2>&1) || true
if grep -q 'PriorityLock' <<<"$describe" && grep -q 'holder:' <<<"$describe"; then
  pass "baton describe ct/lock shows its holder"
else
  fail "baton describe ct/lock: $describe"
fi
if wait "$holder"; then pass "the holder's command finished under the lock"; else fail "the holder's lock"; fi

# A rate limit: a bucket of 2 that refills one token in 1000 s.
rl=("$cli" ratelimit ct/limit --rate 0.001 --capacity 2 --wait 0s)
r1=0; "${rl[@]}" >/dev/null 2>&1 || r1=$?
r2=0; "${rl[@]}" >/dev/null 2>&1 || r2=$?
r3=0; "${rl[@]}" >/dev/null 2>&1 || r3=$?
if [[ "$r1 $r2 $r3" == "0 0 1" ]]; then
  pass "baton ratelimit: granted, granted, refused (exit 0 0 1)"
else
  fail "baton ratelimit: exit codes $r1 $r2 $r3, expected 0 0 1"
fi
describe=$("$cli" describe ct/limit 2>&1) || true
if grep -q 'AdvancedRateLimit' <<<"$describe" && grep -q 'rate=0.001' <<<"$describe"; then
  pass "baton describe ct/limit"
else
  fail "baton describe ct/limit: $describe"
fi

# ---- SIGTERM drains ---------------------------------------------------------
# A session holds a lock when SIGTERM arrives: batond tells it, waits out the
# grace, ends it, and exits 0.
"$cli" lock ct/drain -- sh -c "touch '$tmp/drain-held'; sleep 60" >"$tmp/drain.log" 2>&1 &
bg_pids+=($!)
drainer=$!
for _ in $(seq 50); do [[ -e $tmp/drain-held ]] && break; sleep 0.1; done
[[ -e $tmp/drain-held ]] || fail "could not hold ct/drain before SIGTERM"
t=$SECONDS
$engine kill --signal TERM "$name" >/dev/null
code=$(timeout $((grace + 15)) $engine wait "$name" | tail -1) || code=timeout
elapsed=$((SECONDS - t))
logs=$($engine logs "$name" 2>&1)
if [[ $code == 0 ]] && ((elapsed <= grace + 5)); then
  pass "SIGTERM: exit 0 after ${elapsed} s (grace ${grace} s)"
else
  fail "SIGTERM: exit code $code after ${elapsed} s (grace ${grace} s)"
  echo "$logs" >&2
fi
# The holder is told its lease is lost when the grace runs out: exit 75.
for _ in $(seq 150); do kill -0 "$drainer" 2>/dev/null || break; sleep 0.1; done
kill "$drainer" 2>/dev/null || true
code=0; wait "$drainer" || code=$?
if [[ $code == 75 ]]; then
  pass "the lock holder lost its lease at the end of the grace (exit 75)"
else
  fail "the lock holder during the drain: exit $code, expected 75"
  cat "$tmp/drain.log" >&2
fi
if grep -Eq "draining signal=\"SIGTERM\" grace=\"${grace}s\" sessions=[1-9][0-9]*" <<<"$logs" && grep -Eq 'info +stopped' <<<"$logs"; then
  pass "drained with the grace from BATON_GRACE, then stopped"
else
  fail "drain log lines missing"
  echo "$logs" >&2
fi

# ---- TLS ---------------------------------------------------------------------
# The same image with mTLS: the certificates mounted read-only (as a
# Kubernetes Secret would be), batond's flags and the HEALTHCHECK's client
# certificate from BATON_TLS_* variables.
bash tests/testing/make_test_certs.sh "$tmp/tls"
chmod a+rx "$tmp" "$tmp/tls"  # the container's user reads them
t=$SECONDS
c=/etc/baton/tls
$engine run -d --name "$name-tls" \
  -p 127.0.0.1::7070 \
  --read-only "${run_flags[@]}" \
  --cap-drop=ALL --security-opt=no-new-privileges \
  -v "$tmp/tls:$c:ro" \
  -e BATON_TLS_CERT_FILE=$c/server.crt -e BATON_TLS_KEY_FILE=$c/server.key \
  -e BATON_TLS_CLIENT_CA_FILE=$c/ca.crt \
  -e BATON_TLS_CA=$c/ca.crt -e BATON_TLS_CERT=$c/client.crt -e BATON_TLS_KEY=$c/client.key \
  -e BATON_SHARDS=1 "$image" >"$tmp/run-tls.log" 2>&1 || {
  cat "$tmp/run-tls.log" >&2
  die "$engine run (TLS) failed"
}
hostport=$($engine port "$name-tls" 7070/tcp | head -1)
tls_addr=127.0.0.1:${hostport##*:}
name_plain=$name
name=$name-tls  # healthy() asks the container named $name
until healthy; do
  if [[ $($engine inspect --format '{{.State.Running}}' "$name") != true ]]; then
    $engine logs "$name" >&2 || true
    die "batond (TLS) exited"
  fi
  ((SECONDS - t < 40)) || { $engine logs "$name" >&2; die "not healthy (TLS) after 40 s"; }
  sleep 0.5
done
name=$name_plain
pass "mTLS: healthy after $((SECONDS - t)) s (the HEALTHCHECK over mTLS)"
logs=$($engine logs "$name-tls" 2>&1)
if grep -q 'tls on .*client_certificates="required"' <<<"$logs" && ! grep -q 'plaintext gRPC' <<<"$logs"; then
  pass "mTLS: batond says TLS is on, and no plaintext warning"
else
  fail "mTLS start lines: $logs"
fi
if BATON_ADDR=$tls_addr BATON_TLS_CA=$tmp/tls/ca.crt BATON_TLS_CERT=$tmp/tls/client.crt \
  BATON_TLS_KEY=$tmp/tls/client.key "$cli" lock ct/tls --timeout 5s -- true; then
  pass "mTLS: baton lock from the host with a client certificate"
else
  fail "mTLS: baton lock from the host with a client certificate"
fi
code=0; BATON_ADDR=$tls_addr "$cli" health >/dev/null 2>&1 || code=$?
if [[ $code == 69 ]]; then
  pass "mTLS: a plaintext client is refused (exit 69)"
else
  fail "mTLS: a plaintext client: exit $code, expected 69 (unreachable)"
fi
$engine rm -f "$name-tls" >/dev/null 2>&1 || true

log "done in $((SECONDS - start)) s; image $image: $((size / 1000000)) MB"
echo "deploy/test: $passed passed, $failed failed"
((failed == 0))
