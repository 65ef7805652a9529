// Copyright 2026 The Baton Authors.
//
// The exit codes of the `baton` command-line tool, in one place so that the
// help text and the code agree. `baton help` lists them; scripts may rely on
// them.

#ifndef BATON_CLIENT_CLI_EXIT_CODES_H_
#define BATON_CLIENT_CLI_EXIT_CODES_H_

namespace baton::cli {

// Done: granted, run, declared, SERVING.
inline constexpr int kExitOk = 0;
// The server said no: a server error (the status code is printed), a rate
// limit refused, a health check not SERVING.
inline constexpr int kExitFailure = 1;
// Usage error (the command's usage is printed), or a declaration that
// conflicts with the parameters NAME exists with (bound, rate, counts).
inline constexpr int kExitUsage = 2;
// A --timeout ran out before the lock, permit, latch or notify came.
inline constexpr int kExitTimeout = 3;
// NAME exists as another kind than the command (or its --kind) uses: every
// command answers this code, and names the command or --kind that fits.
inline constexpr int kExitWrongKind = 4;
// batond cannot be reached (or is draining): EX_UNAVAILABLE of sysexits.h.
inline constexpr int kExitUnavailable = 69;
// The lease was lost while CMD ran (the session ended or the hold was
// revoked); CMD was stopped: EX_TEMPFAIL of sysexits.h, as `consul lock`.
inline constexpr int kExitLeaseLost = 75;
// CMD could not be started: found but not executable (126), not found (127),
// as a shell says.
inline constexpr int kExitCannotExecute = 126;
inline constexpr int kExitCommandNotFound = 127;
// CMD died of signal N, or baton was interrupted by signal N while waiting.
inline constexpr int kExitSignalBase = 128;

}  // namespace baton::cli

#endif  // BATON_CLIENT_CLI_EXIT_CODES_H_
