// Copyright 2026 The Baton Authors.

#include "server/runtime/record_pool.h"

#include <sys/mman.h>

#include <cstdlib>

namespace baton::runtime {

// At the start of each slab (aligned to kSlabBytes, so that a block finds
// its slab by masking its address), then the blocks.
struct RecordPool::Slab {
  RecordPool* owner;  // nullptr once the pool is destroyed
  Slab* all_prev;     // in owner->all_
  Slab* all_next;
  Slab* room_prev;  // in owner->room_, while in_room
  Slab* room_next;
  void* free_list;     // freed blocks, linked through their first word
  std::uint32_t used;  // blocks handed out from the start at least once
  std::uint32_t live;  // blocks handed out and not freed
  bool in_room;
};

namespace {

constexpr std::size_t kHeaderBytes = 64;

std::size_t RoundUp8(std::size_t n) { return (n + 7) / 8 * 8; }

// MapSlab() maps kSlabBytes aligned to kSlabBytes: twice as much, the
// excess unmapped on both sides. Pages are touched only when used.
void* MapSlab() {
  constexpr std::size_t kBytes = RecordPool::kSlabBytes;
  void* raw = mmap(nullptr, 2 * kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) std::abort();
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (start + kBytes - 1) & ~(std::uintptr_t{kBytes} - 1);
  if (aligned > start) munmap(raw, aligned - start);
  const std::uintptr_t end = start + 2 * kBytes;
  if (end > aligned + kBytes) {
    munmap(reinterpret_cast<void*>(aligned + kBytes), end - aligned - kBytes);
  }
  return reinterpret_cast<void*>(aligned);
}

}  // namespace

RecordPool::RecordPool(std::size_t block_bytes)
    : block_bytes_(RoundUp8(block_bytes < sizeof(void*) ? sizeof(void*) : block_bytes)),
      blocks_per_slab_((kSlabBytes - kHeaderBytes) / block_bytes_) {
  static_assert(sizeof(Slab) <= kHeaderBytes);
  if (blocks_per_slab_ < 16) std::abort();  // blocks this large belong in malloc
}

RecordPool::~RecordPool() {
  // Slabs with blocks still out stay mapped until their last Free().
  for (Slab* slab = all_; slab != nullptr;) {
    Slab* const next = slab->all_next;
    if (slab->live == 0) {
      munmap(slab, kSlabBytes);
    } else {
      slab->owner = nullptr;
    }
    slab = next;
  }
}

void RecordPool::AddRoom(Slab* slab) {
  slab->in_room = true;
  slab->room_prev = nullptr;
  slab->room_next = room_;
  if (room_ != nullptr) room_->room_prev = slab;
  room_ = slab;
}

void RecordPool::RemoveRoom(Slab* slab) {
  slab->in_room = false;
  if (slab->room_prev != nullptr) {
    slab->room_prev->room_next = slab->room_next;
  } else {
    room_ = slab->room_next;
  }
  if (slab->room_next != nullptr) slab->room_next->room_prev = slab->room_prev;
}

void RecordPool::RemoveSlab(Slab* slab) {
  if (slab->in_room) RemoveRoom(slab);
  if (slab->all_prev != nullptr) {
    slab->all_prev->all_next = slab->all_next;
  } else {
    all_ = slab->all_next;
  }
  if (slab->all_next != nullptr) slab->all_next->all_prev = slab->all_prev;
  --slabs_;
  munmap(slab, kSlabBytes);
}

void* RecordPool::Allocate() {
  Slab* slab = room_;
  if (slab == nullptr) {
    slab = static_cast<Slab*>(MapSlab());
    *slab = Slab{.owner = this,
                 .all_prev = nullptr,
                 .all_next = all_,
                 .room_prev = nullptr,
                 .room_next = nullptr,
                 .free_list = nullptr,
                 .used = 0,
                 .live = 0,
                 .in_room = false};
    if (all_ != nullptr) all_->all_prev = slab;
    all_ = slab;
    ++slabs_;
    AddRoom(slab);
  }
  void* block;
  if (slab->free_list != nullptr) {
    block = slab->free_list;
    slab->free_list = *static_cast<void**>(block);
  } else {
    block = reinterpret_cast<char*>(slab) + kHeaderBytes + slab->used * block_bytes_;
    ++slab->used;
  }
  ++slab->live;
  ++live_;
  if (slab->free_list == nullptr && slab->used == blocks_per_slab_) RemoveRoom(slab);
  return block;
}

void RecordPool::Free(void* block) {
  Slab* const slab = reinterpret_cast<Slab*>(reinterpret_cast<std::uintptr_t>(block) &
                                             ~(std::uintptr_t{kSlabBytes} - 1));
  *static_cast<void**>(block) = slab->free_list;
  slab->free_list = block;
  --slab->live;
  RecordPool* const pool = slab->owner;
  if (pool == nullptr) {
    // Its pool is gone: the slab goes with its last block.
    if (slab->live == 0) munmap(slab, kSlabBytes);
    return;
  }
  --pool->live_;
  if (!slab->in_room) pool->AddRoom(slab);
  if (slab->live == 0 && (pool->room_ != slab || slab->room_next != nullptr)) {
    // Empty, and another slab has room: the memory goes back.
    pool->RemoveSlab(slab);
  }
}

}  // namespace baton::runtime
