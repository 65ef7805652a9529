#!/usr/bin/env bash
# Regenerates the protobuf and gRPC modules of the Python client from
# proto/baton/v1/*.proto, with Debian's protoc and grpc_python_plugin
# (packages protobuf-compiler and protobuf-compiler-grpc).
#
#   client/python/generate.sh            # into client/python/baton/_proto
#   client/python/generate.sh OUT_DIR    # elsewhere (the staleness test does)
#
# protoc names modules after the .proto paths ("baton.v1.session_pb2"), which
# would collide with this package, itself named baton: the imports are
# rewritten to point inside it ("baton._proto.baton.v1.session_pb2").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$here/baton/_proto}
plugin=$(command -v grpc_python_plugin)

mkdir -p "$out"
protoc -I "$repo/proto" --python_out="$out" --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python="$plugin" \
  "$repo"/proto/baton/v1/common.proto \
  "$repo"/proto/baton/v1/session.proto \
  "$repo"/proto/baton/v1/admin.proto
for f in "$out"/baton/v1/*.py; do
  sed -i -e 's/^from baton\.v1 import /from baton._proto.baton.v1 import /' "$f"
done
touch "$out/__init__.py" "$out/baton/__init__.py" "$out/baton/v1/__init__.py"
