// Copyright 2026 The Baton Authors.
//
// baton_store_engines: the measurement behind the store's engine (README,
// "What survives a restart"): LevelDB against SQLite (WAL, synchronous=FULL,
// so that a commit is durable like a synced LevelDB write) on what batond
// asks of it:
//   - synced commits of 16 records each (one group commit of a loud turn),
//     one after the other: commits/s;
//   - 1,000,000 records of ~60 bytes, written in batches of 10,000, then
//     read back in key order (batond's start): seconds for each.
//
//   baton_store_engines DIR          # DIR on the disk to measure
//
// Prints a markdown table.

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "leveldb/db.h"
#include "leveldb/write_batch.h"

namespace {

constexpr int kCommits = 2000;
constexpr int kPerCommit = 16;
constexpr int kRecords = 1'000'000;
constexpr int kBatch = 10'000;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

std::string Key(int i) { return "i/bench/latch/" + std::to_string(i); }
const std::string kValue(60, 'x');

void LevelDb(const std::string& dir) {
  leveldb::Options options;
  options.create_if_missing = true;
  options.write_buffer_size = 16 << 20;
  leveldb::DB* raw = nullptr;
  if (!leveldb::DB::Open(options, dir, &raw).ok()) std::abort();
  std::unique_ptr<leveldb::DB> db(raw);
  leveldb::WriteOptions sync;
  sync.sync = true;
  auto start = std::chrono::steady_clock::now();
  for (int c = 0; c < kCommits; ++c) {
    leveldb::WriteBatch batch;
    for (int i = 0; i < kPerCommit; ++i) batch.Put("i/hot/" + std::to_string(i), kValue);
    if (!db->Write(sync, &batch).ok()) std::abort();
  }
  const double commits = kCommits / Seconds(start);
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRecords; i += kBatch) {
    leveldb::WriteBatch batch;
    for (int j = i; j < i + kBatch; ++j) batch.Put(Key(j), kValue);
    if (!db->Write(leveldb::WriteOptions(), &batch).ok()) std::abort();
  }
  const double fill = Seconds(start);
  db.reset();
  if (!leveldb::DB::Open(options, dir, &raw).ok()) std::abort();
  db.reset(raw);
  start = std::chrono::steady_clock::now();
  int seen = 0;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  for (it->Seek("i/bench/"); it->Valid() && it->key().starts_with("i/bench/"); it->Next()) ++seen;
  const double scan = Seconds(start);
  if (seen != kRecords) std::abort();
  std::printf("| LevelDB 1.23 | %.0f | %.2f | %.2f |\n", commits, fill, scan);
}

void Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::fprintf(stderr, "sqlite: %s: %s\n", sql, error);
    std::abort();
  }
}

void Sqlite(const std::string& dir) {
  std::filesystem::create_directories(dir);
  sqlite3* db = nullptr;
  if (sqlite3_open((dir + "/kv.db").c_str(), &db) != SQLITE_OK) std::abort();
  Exec(db, "PRAGMA journal_mode=WAL");
  Exec(db, "PRAGMA synchronous=FULL");
  Exec(db, "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID");
  sqlite3_stmt* put = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kv VALUES (?, ?)", -1, &put, nullptr) !=
      SQLITE_OK) {
    std::abort();
  }
  auto insert = [&](const std::string& k) {
    sqlite3_bind_text(put, 1, k.data(), static_cast<int>(k.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(put, 2, kValue.data(), static_cast<int>(kValue.size()), SQLITE_STATIC);
    if (sqlite3_step(put) != SQLITE_DONE) std::abort();
    sqlite3_reset(put);
  };
  auto start = std::chrono::steady_clock::now();
  for (int c = 0; c < kCommits; ++c) {
    Exec(db, "BEGIN");
    for (int i = 0; i < kPerCommit; ++i) insert("i/hot/" + std::to_string(i));
    Exec(db, "COMMIT");
  }
  const double commits = kCommits / Seconds(start);
  Exec(db, "PRAGMA synchronous=OFF");  // the fill is not what is measured for durability
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRecords; i += kBatch) {
    Exec(db, "BEGIN");
    for (int j = i; j < i + kBatch; ++j) insert(Key(j));
    Exec(db, "COMMIT");
  }
  const double fill = Seconds(start);
  sqlite3_finalize(put);
  sqlite3_close(db);
  if (sqlite3_open((dir + "/kv.db").c_str(), &db) != SQLITE_OK) std::abort();
  sqlite3_stmt* scan = nullptr;
  sqlite3_prepare_v2(db, "SELECT k, v FROM kv WHERE k >= 'i/bench/' AND k < 'i/bench0' ORDER BY k",
                     -1, &scan, nullptr);
  start = std::chrono::steady_clock::now();
  int seen = 0;
  while (sqlite3_step(scan) == SQLITE_ROW) {
    static_cast<void>(sqlite3_column_blob(scan, 1));
    ++seen;
  }
  const double read = Seconds(start);
  sqlite3_finalize(scan);
  sqlite3_close(db);
  if (seen != kRecords) std::abort();
  std::printf("| SQLite %s (WAL, synchronous=FULL) | %.0f | %.2f | %.2f |\n", sqlite3_libversion(),
              commits, fill, read);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: baton_store_engines DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::printf("| engine | synced commits/s (16 records each) | write 1M records, s | read 1M in key order, s |\n");
  std::printf("| --- | --- | --- | --- |\n");
  LevelDb(dir + "/leveldb");
  Sqlite(dir + "/sqlite");
  std::filesystem::remove_all(dir);
  return 0;
}
