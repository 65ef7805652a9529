// Copyright 2026 The Baton Authors.
//
// RecordPool hands out blocks of one size, carved from slabs of kSlabBytes
// mapped from the system (mmap), for the objects a loop keeps by the
// million: a queued wait's record (server/service/session_ops.cc). Two
// things set it apart from malloc for them:
//   - no header per block (malloc's is 8 bytes, and it rounds up to 16);
//   - the blocks live apart from the short-lived allocations around them
//     (the requests a burst of acquires arrives in, freed once run), so that
//     when the burst is over that memory is free in one piece, which malloc
//     can give back, instead of in holes between the records.
// A slab is touched only as far as it has been used (blocks are handed out
// from its start before any is reused), and a slab whose blocks are all
// free is unmapped, unless it is the only one with room left.
//
// Example:
//   RecordPool pool(sizeof(Record));
//   Record* r = new (pool.Allocate()) Record(...);
//   r->~Record();
//   pool.Free(r);
//
// Threading: not thread-safe; confined to one loop's turns, like the objects
// it holds. A block may be freed after the pool is destroyed (work a loop
// runs after its owner is gone): the pool leaves slabs with blocks still
// out mapped, and the last Free() of such a slab unmaps it.

#ifndef BATON_SERVER_RUNTIME_RECORD_POOL_H_
#define BATON_SERVER_RUNTIME_RECORD_POOL_H_

#include <cstddef>
#include <cstdint>

namespace baton::runtime {

class RecordPool {
 public:
  static constexpr std::size_t kSlabBytes = std::size_t{256} << 10;

  // `block_bytes`: at least the size of the objects to hold (rounded up to a
  // multiple of 8, their alignment at most), and at most a few KiB.
  explicit RecordPool(std::size_t block_bytes);
  RecordPool(const RecordPool&) = delete;
  RecordPool& operator=(const RecordPool&) = delete;
  ~RecordPool();

  // Allocate() is a block of block_bytes(), 8-byte aligned. Aborts when the
  // system has no memory to map, as operator new would throw.
  void* Allocate();
  // Free() gives back a block of this pool (or of a pool destroyed since).
  static void Free(void* block);

  std::size_t block_bytes() const { return block_bytes_; }
  std::size_t blocks_per_slab() const { return blocks_per_slab_; }
  // Blocks handed out and not freed; slabs mapped. For tests.
  std::size_t live() const { return live_; }
  std::size_t slabs() const { return slabs_; }

 private:
  struct Slab;

  void AddRoom(Slab* slab);
  void RemoveRoom(Slab* slab);
  void RemoveSlab(Slab* slab);

  const std::size_t block_bytes_;
  const std::size_t blocks_per_slab_;
  // Every slab, and those of them with a free block (most recently given
  // room first: Allocate() takes from the head).
  Slab* all_ = nullptr;
  Slab* room_ = nullptr;
  std::size_t live_ = 0;
  std::size_t slabs_ = 0;
};

}  // namespace baton::runtime

#endif  // BATON_SERVER_RUNTIME_RECORD_POOL_H_
