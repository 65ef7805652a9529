# Issue 6's targets (item 3), and the ratios Baton/Redis and Baton/etcd,
# computed from the rows of one run. bench/run_all.sh runs it as
#
#   awk -f bench/targets.awk ROWS SCALE_ROWS
#
# ROWS: the data rows of bench/run_comparison.sh's table (baton_loadgen's and
# bench/peers' format):
#   | scenario | target | sessions | in flight | ops/s | p50 µs | p99 µs | p99.9 µs | server CPU s per 1M ops |
# SCALE_ROWS: the data rows of baton_scale_bench's table:
#   | measure | value | target | met? |
# Either file may be empty (its targets are then "not measured"). Prints
# Markdown: the targets (one row each, then every case), then Baton against
# the peers. Plain POSIX awk (Debian's mawk).
#
# The echo baseline of each case is the faster of the two echo servers at
# that concurrency (more messages/s: echo-cb, the callback API batond uses,
# wherever batching matters; echo-cq at some others); the other is shown
# beside it. Throughput, CPU per op and p50 (issue 16: lock, semaphore and
# rate_stream) are compared at the same sessions x in flight; the hand-off
# latency with the echo round trip at the smallest concurrency run (1x1 in
# a full run). Rate
# limits against Redis's EVALSHA token bucket at the same batching: Baton's
# stream with batching against Redis pipelined at the same sessions x in
# flight; Baton without batching (the stream with --batch=1, and the unary
# call) against Redis with one command in flight per connection and as many
# connections as Baton has requests in flight.

BEGIN {
  FS = "|"; base = ""
  name[1] = "uncontended ops/s (lock, semaphore, rate_stream) ≥ 0.85 × the faster echo's messages/s"
  dir[1] = "ge"; limit[1] = 0.85
  name[2] = "server CPU per op (lock, semaphore, rate_stream) ≤ 1.2 × the faster echo's per message"
  dir[2] = "le"; limit[2] = 1.2
  name[3] = "p50 (lock, semaphore, rate_stream) ≤ 1.5 × the faster echo's p50 (issue 16)"
  dir[3] = "le"; limit[3] = 1.5
  name[4] = "hand-off p50 ≤ 1.5 × echo round trip"; dir[4] = "le"; limit[4] = 1.5
  name[5] = "hand-off p99 ≤ 2 × echo round trip"; dir[5] = "le"; limit[5] = 2
  name[6] = "rate-limit decisions/s ≥ 2 × Redis EVALSHA: batched stream vs Redis pipelined"
  dir[6] = "ge"; limit[6] = 2
  name[7] = "rate-limit decisions/s ≥ 2 × Redis EVALSHA: unbatched vs Redis one command per connection"
  dir[7] = "ge"; limit[7] = 2
  name[8] = "≤ 200 B per idle lock"; dir[8] = "le"
  name[9] = "≤ 256 B per queued waiter"; dir[9] = "le"
  name[10] = "≤ 32 KiB per idle session"; dir[10] = "le"
  name[11] = "1,000,000 queued waiters within 1 GiB"; dir[11] = "le"
  name[12] = "10,000 sessions ≥ 0.9 × the throughput of 100"; dir[12] = "ge"
  ntargets = 12
  first_scale = 8
}

function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
function isnum(s) { return s ~ /^[0-9]+([.][0-9]+)?$/ }
function commas(x,    s, out, n) {
  s = sprintf("%.0f", x); out = ""; n = length(s)
  while (n > 3) { out = "," substr(s, n - 2, 3) out; n -= 3 }
  return substr(s, 1, n) out
}
function times(r) { return sprintf("%.2f×", r) }
function have(key) { return (key in ops) }
# ratio of a field of two rows, or "" when either is missing or not a number
function ratio_of(field, a, b,    x, y) {
  if (!have(a) || !have(b)) return ""
  if (field == "ops") { x = ops[a]; y = ops[b] }
  else if (field == "cpu") { x = cpu[a]; y = cpu[b] }
  else if (field == "p50") { x = p50[a]; y = p50[b] }
  else { x = p99[a]; y = p99[b] }
  if (!isnum(x) || !isnum(y) || y + 0 == 0) return ""
  return x / y
}
function show(r) { return r == "" ? "–" : times(r) }

# add_case(T, CASE, BATON, OTHER, RATIO, MET): one case of target T; RATIO
# "" and MET "" when not measured.
function add_case(t, label, baton, other, r, met,    i) {
  i = ++ncase[t]
  case_label[t, i] = label; case_baton[t, i] = baton; case_other[t, i] = other
  case_ratio[t, i] = r; case_met[t, i] = met
  if (met == "") return
  measured[t]++
  if (met == "yes") nmet[t]++
  # the worst case: the smallest ratio for a floor, the largest for a ceiling
  if (r != "" && (!(t in worst) || (dir[t] == "ge" ? r < worst[t] : r > worst[t]))) {
    worst[t] = r; worst_label[t] = label
  }
  if (r != "" && (!(t in best) || (dir[t] == "ge" ? r > best[t] : r < best[t]))) {
    best[t] = r; best_label[t] = label
  }
}
# "RATIO (CASE: BATON vs OTHER)", OTHER without its parenthesis
function summary(t, i,    other) {
  other = case_other[t, i]
  sub(/ \(.*$/, "", other)
  return times(case_ratio[t, i]) " (" case_label[t, i] ": " case_baton[t, i] " vs " other ")"
}
function verdict(r, t) {
  if (r == "") return ""
  return (dir[t] == "ge" ? r >= limit[t] : r <= limit[t]) ? "yes" : "no"
}

# faster_echo(C): the key of the echo server with more messages/s at
# concurrency C ("" when neither ran); other_echo(C) the other one ("" when
# it did not run).
function faster_echo(c,    cq, cb) {
  cq = "echo" SUBSEP "echo-cq" SUBSEP c
  cb = "echo" SUBSEP "echo-cb" SUBSEP c
  if (!have(cb)) return have(cq) ? cq : ""
  if (!have(cq)) return cb
  if (isnum(ops[cb]) && isnum(ops[cq]) && ops[cb] + 0 > ops[cq] + 0) return cb
  if (isnum(ops[cq])) return cq
  return cb
}
function other_echo(c,    f, o) {
  f = faster_echo(c)
  o = (f == "echo" SUBSEP "echo-cb" SUBSEP c) ? "echo" SUBSEP "echo-cq" SUBSEP c \
                                              : "echo" SUBSEP "echo-cb" SUBSEP c
  return have(o) ? o : ""
}
function echo_name(key,    parts) { split(key, parts, SUBSEP); return parts[2] }
# "echo-cb 553,901 ops/s (echo-cq 308,048 ops/s: 1.34×)": the faster echo's
# figure, then the other's with Baton's ratio to it.
function echo_other(field, b, f, o, unit,    text) {
  text = echo_name(f) " " figure(field, f, unit)
  if (o != "") text = text " (" echo_name(o) " " figure(field, o, unit) ": " show(ratio_of(field, b, o)) ")"
  return text
}

# Baton against the faster echo (and the other beside it) at concurrency C
# for target T.
function echo_case(t, scenario, field, c, unit,    b, f, o, r) {
  b = scenario SUBSEP "baton" SUBSEP c
  f = faster_echo(c); o = other_echo(c)
  if (f == "") return
  r = ratio_of(field, b, f)
  add_case(t, scenario " " c, have(b) ? figure(field, b, unit) : "not measured",
           echo_other(field, b, f, o, unit), r, verdict(r, t))
}
function figure(field, key, unit,    v) {
  if (field == "ops") v = ops[key]
  else if (field == "cpu") v = cpu[key]
  else if (field == "p50") v = p50[key]
  else v = p99[key]
  if (!isnum(v)) return v
  return (field == "ops" ? commas(v) : v) " " unit
}

FNR == 1 { file++ }

file == 1 && NF >= 10 {
  sc = trim($2); tg = trim($3); n = trim($4); k = trim($5)
  if (sc == "scenario" || sc ~ /^-+$/ || !isnum(n) || !isnum(k)) next
  c = n "x" k
  key = sc SUBSEP tg SUBSEP c
  if (!(key in ops)) { nrows++; row_key[nrows] = key; row_sc[nrows] = sc; row_tg[nrows] = tg
                       row_n[nrows] = n; row_k[nrows] = k }
  ops[key] = trim($6); p50[key] = trim($7); p99[key] = trim($8); cpu[key] = trim($10)
  if (sc == "echo" && (tg == "echo-cq" || tg == "echo-cb")) {
    if (!(c in echo_seen)) { echo_seen[c] = 1; echo_conc[++nconc] = c }
    if (base == "") base = c  # the first (smallest) concurrency
  }
  if (tg ~ /^redis/) { if (tg ~ / pipelined$/) redis_pipe = tg; else redis_plain = tg }
  if (tg ~ /^etcd/) etcd = tg
  next
}

file == 2 && NF >= 5 {
  m = trim($2)
  if (m == "measure" || m ~ /^-+$/) next
  t = ""
  if (m ~ /^memory per idle instance/) t = 8
  else if (m ~ /^memory per queued waiter/) t = 9
  else if (m ~ /^memory per idle session/) t = 10
  else if (m ~ /queued waiters: RSS delta/) t = 11
  else if (m ~ /^throughput .* sessions \/ .* sessions/) t = 12  # either session API
  if (t == "") next
  label = m
  if (match(m, /\(.*\)/)) label = substr(m, RSTART + 1, RLENGTH - 2)
  if (t == 11 || t == 12) label = m
  met = trim($5)
  add_case(t, label, trim($3), trim($4), "", (met == "yes" || met == "no") ? met : "")
  next
}

END {

  # 1, 2, 3: uncontended lock, semaphore and rate_stream (uniform keys)
  # against the faster echo, every concurrency.
  split("lock semaphore rate_stream", echo_scenarios, " ")
  for (t = 1; t <= 3; t++) {
    f = (t == 1) ? "ops" : (t == 2) ? "cpu" : "p50"
    u = (t == 1) ? "ops/s" : (t == 2) ? "s/M" : "µs"
    for (i = 1; i <= nconc; i++)
      for (s = 1; s <= 3; s++) echo_case(t, echo_scenarios[s], f, echo_conc[i], u)
  }
  # 4, 5: hand-off (2 sessions x 1) against the echo round trip at base.
  if (base != "") {
    h = "handoff" SUBSEP "baton" SUBSEP "2x1"
    fe = faster_echo(base); oe = other_echo(base)
    for (t = 4; t <= 5; t++) {
      f = (t == 4) ? "p50" : "p99"
      r = ratio_of(f, h, fe)
      add_case(t, "handoff 2x1 vs echo " base, have(h) ? figure(f, h, "µs") : "not measured",
               echo_name(fe) " " figure(f, fe, "µs") (oe == "" ? "" : " (" echo_name(oe) " " \
               figure(f, oe, "µs") ": " show(ratio_of(f, h, oe)) ")"), r, verdict(r, t))
    }
  }
  # 6: rate limits against Redis. With batching: every Redis pipelined row.
  for (i = 1; i <= nrows; i++) {
    key = row_key[i]
    if (row_tg[i] != redis_pipe || row_sc[i] !~ /^rate_stream/) continue
    c = row_n[i] "x" row_k[i]
    b = row_sc[i] SUBSEP "baton" SUBSEP c
    r = ratio_of("ops", b, key)
    add_case(6, row_sc[i] " " c,
             have(b) ? figure("ops", b, "decisions/s") : "not measured",
             "Redis pipelined " figure("ops", key, "decisions/s"), r, verdict(r, 6))
  }
  # Without batching: Baton's unbatched stream and unary call at N x K
  # against Redis with N*K connections, one command each.
  for (i = 1; i <= nrows; i++) {
    if (row_tg[i] != "baton") continue
    sc = row_sc[i]
    if (sc !~ /^rate_stream.*\(no batching\)$/ && sc !~ /^rate_unary/) continue
    redis_sc = (sc ~ /hot key/) ? "rate_stream (hot key)" : "rate_stream"
    p = redis_sc SUBSEP redis_plain SUBSEP (row_n[i] * row_k[i]) "x1"
    if (!have(p)) continue
    r = ratio_of("ops", row_key[i], p)
    # gRPC's own limit at one request per message (the faster echo server
    # unbatched), or for one unary call (the echo servers' TryAcquire).
    unary = (sc ~ /^rate_unary/)
    e_sc = unary ? "echo_unary" : "echo (no batching)"
    e = e_sc SUBSEP "echo-cq" SUBSEP row_n[i] "x" row_k[i]
    eb = e_sc SUBSEP "echo-cb" SUBSEP row_n[i] "x" row_k[i]
    if (!have(e) || (have(eb) && isnum(ops[eb]) && isnum(ops[e]) && ops[eb] + 0 > ops[e] + 0)) e = eb
    limit_note = have(e) ? " (" echo_name(e) " " (unary ? "unary call" : "unbatched") ", gRPC's limit: " \
                           figure("ops", e, unary ? "calls/s" : "messages/s") ", " \
                           show(ratio_of("ops", e, p)) " Redis)" : ""
    add_case(7, sc " " row_n[i] "x" row_k[i] " vs " (row_n[i] * row_k[i]) " connections × 1",
             figure("ops", row_key[i], "decisions/s"),
             "Redis " figure("ops", p, "decisions/s") limit_note, r, verdict(r, 7))
  }

  print "| target (issue 6, item 3; issue 16) | where Baton stands (worst case) | met? |"
  print "| --- | --- | --- |"
  for (t = 1; t <= ntargets; t++) {
    if (!measured[t]) { printf "| %s | not measured | – |\n", name[t]; continue }
    if (ncase[t] == 1 || !(t in worst)) {
      # one case (or figures without a ratio: the scale rows)
      j = 1
      for (i = 1; i <= ncase[t]; i++) if (case_met[t, i] == "no") { j = i; break }
      if (case_ratio[t, j] != "") stand = summary(t, j)
      else {
        stand = case_baton[t, j] "; " case_label[t, j] "; target " case_other[t, j]
        for (i = 1; i <= ncase[t]; i++)
          if (i != j) stand = stand "; also " case_baton[t, i] " (" case_label[t, i] ")"
      }
    } else {
      for (i = 1; i <= ncase[t]; i++) if (case_label[t, i] == worst_label[t]) j = i
      stand = summary(t, j)
      if (best_label[t] != worst_label[t]) stand = stand "; best " times(best[t]) " (" best_label[t] ")"
    }
    if (nmet[t] == measured[t]) v = "yes"
    else if (measured[t] == 1) v = "no"
    else v = "no (" (nmet[t] + 0) " of " measured[t] " cases met)"
    if (measured[t] < ncase[t]) v = v "; " (ncase[t] - measured[t]) " not measured"
    printf "| %s | %s | %s |\n", name[t], stand, v
  }
  print ""
  print "Every case:"
  print ""
  print "| target | case | Baton | compared with | ratio | met? |"
  print "| --- | --- | ---: | --- | ---: | --- |"
  for (t = 1; t <= ntargets; t++)
    for (i = 1; i <= ncase[t]; i++)
      printf "| %s | %s | %s | %s | %s | %s |\n", (i == 1 ? name[t] : ""), case_label[t, i],
             case_baton[t, i], case_other[t, i], show(case_ratio[t, i]),
             case_met[t, i] == "" ? "not measured" : case_met[t, i]

  # Baton / Redis and Baton / etcd.
  print ""
  print "### Baton / Redis, Baton / etcd"
  print ""
  print "Each Baton row against the peer's row of the same scenario (rate limits: the same key"
  print "pattern): Redis pipelined and etcd at the same sessions × in flight, Redis one command per"
  print "connection with as many connections as Baton has requests in flight. Above 1: Baton has"
  print "more (ops/s) or costs more (server CPU per op, latency)."
  print ""
  print "| Baton row | sessions × in flight | peer row | Baton ops/s | peer ops/s | ops/s | CPU/op | p50 | p99 |"
  print "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  rows_out = 0
  for (i = 1; i <= nrows; i++) {
    if (row_tg[i] != "baton") continue
    sc = row_sc[i]; c = row_n[i] "x" row_k[i]
    if (sc == "lock") peer_sc = "lock"
    else if (sc ~ /^rate_/) peer_sc = (sc ~ /hot key/) ? "rate_stream (hot key)" : "rate_stream"
    else continue
    np = 0
    if (redis_pipe != "") { np++; peer[np] = peer_sc SUBSEP redis_pipe SUBSEP c
                            peer_name[np] = redis_pipe " " c }
    if (redis_plain != "") { np++; peer[np] = peer_sc SUBSEP redis_plain SUBSEP (row_n[i] * row_k[i]) "x1"
                             peer_name[np] = redis_plain " " (row_n[i] * row_k[i]) "x1" }
    if (etcd != "" && sc == "lock") { np++; peer[np] = "lock" SUBSEP etcd SUBSEP c; peer_name[np] = etcd " " c }
    for (j = 1; j <= np; j++) {
      if (!have(peer[j])) continue
      b = row_key[i]
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", sc, c, peer_name[j],
             isnum(ops[b]) ? commas(ops[b]) : ops[b], isnum(ops[peer[j]]) ? commas(ops[peer[j]]) : ops[peer[j]],
             show(ratio_of("ops", b, peer[j])), show(ratio_of("cpu", b, peer[j])),
             show(ratio_of("p50", b, peer[j])), show(ratio_of("p99", b, peer[j]))
      rows_out++
    }
  }
  if (!rows_out) print "| (no peer rows in this run) | | | | | | | | |"
}
