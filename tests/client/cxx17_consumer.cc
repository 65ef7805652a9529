// Copyright 2026 The Baton Authors.
//
// Built as a C++17 target that links baton_client (tests/client/CMakeLists.txt):
// it compiles only if baton_client carries C++20 to its users, as the
// README's CMake snippet needs. Running it checks the standard it got.

#include <cstdio>

#include "baton/client.h"
#include "baton/task.h"

int main() {
  if (__cplusplus < 202002L) {
    std::fprintf(stderr, "built as %ld, not C++20\n", static_cast<long>(__cplusplus));
    return 1;
  }
  baton::ClientOptions options;
  options.address = "127.0.0.1:1";
  std::printf("baton_client carried C++20 (%ld); address %s\n", static_cast<long>(__cplusplus),
              options.address.c_str());
  return 0;
}
