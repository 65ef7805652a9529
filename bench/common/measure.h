// Copyright 2026 The Baton Authors.
//
// What every program under bench/ measures the same way, so that their rows
// compare: a process's CPU time, and a percentile of sorted latencies.
//
// Threading: stateless functions; safe from any thread.

#ifndef BATON_BENCH_COMMON_MEASURE_H_
#define BATON_BENCH_COMMON_MEASURE_H_

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace baton::bench {

// ProcessCpuSeconds() is utime + stime of process `pid` (every thread), in
// seconds, from /proc/PID/stat; -1 when it cannot be read.
inline double ProcessCpuSeconds(long pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return -1;
  // The command name, in parentheses, may hold spaces: fields are counted
  // after its closing one (field 3, the state, comes first).
  const std::size_t paren = line.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(line.substr(paren + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// PercentileMicros() is the `p` quantile (0..1, nearest rank) of latencies in
// nanoseconds sorted ascending, in microseconds; 0 when there are none.
inline double PercentileMicros(const std::vector<std::uint64_t>& sorted_ns, double p) {
  if (sorted_ns.empty()) return 0;
  const auto i = static_cast<std::size_t>(p * static_cast<double>(sorted_ns.size() - 1) + 0.5);
  return static_cast<double>(sorted_ns[std::min(i, sorted_ns.size() - 1)]) / 1000.0;
}

}  // namespace baton::bench

#endif  // BATON_BENCH_COMMON_MEASURE_H_
