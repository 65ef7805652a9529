// Copyright 2026 The Baton Authors.
//
// A doubly linked intrusive list. The elements own their links, so linking
// and unlinking never allocate, and an element unlinks itself in O(1) without
// knowing which list it is on. An element may sit on several lists at once by
// deriving from ListHook<Tag> once per tag.
//
// Example:
//   struct QueueTag {};
//   struct Job : ListHook<QueueTag> { int id; };
//   IntrusiveList<Job, QueueTag> queue;
//   Job job;
//   queue.PushBack(&job);
//   job.ListHook<QueueTag>::Unlink();
//
// Neither the list nor the hooks are thread-safe; a list and its elements
// belong to one thread. A list must be empty when destroyed, and a hook must
// be unlinked when its element is destroyed (both are checked).

#ifndef BATON_SERVER_RUNTIME_INTRUSIVE_LIST_H_
#define BATON_SERVER_RUNTIME_INTRUSIVE_LIST_H_

#include <cstddef>
#include <cstdlib>

namespace baton::runtime {

namespace internal {

class ListLinks {
 public:
  ListLinks() = default;
  ListLinks(const ListLinks&) = delete;
  ListLinks& operator=(const ListLinks&) = delete;

  bool linked() const { return next_ != nullptr; }

  void InsertBefore(ListLinks* next) {
    prev_ = next->prev_;
    next_ = next;
    prev_->next_ = this;
    next->prev_ = this;
  }

  void UnlinkLinks() {
    if (next_ == nullptr) return;
    prev_->next_ = next_;
    next_->prev_ = prev_;
    prev_ = next_ = nullptr;
  }

  ListLinks* prev_ = nullptr;
  ListLinks* next_ = nullptr;
};

}  // namespace internal

// ListHook<Tag> makes its subclass an element of IntrusiveList<T, Tag>.
template <typename Tag>
class ListHook : private internal::ListLinks {
 public:
  ListHook() = default;
  ~ListHook() {
    if (linked()) std::abort();  // destroyed while still on a list
  }

  // is_linked() tells whether the element is on a list of this tag.
  bool is_linked() const { return linked(); }

  // Unlink() removes the element from its list; a no-op when not on one.
  void Unlink() { UnlinkLinks(); }

 private:
  template <typename T, typename U>
  friend class IntrusiveList;
};

// IntrusiveList holds elements of type T, which derives from ListHook<Tag>.
// The list does not own its elements. Not movable: elements point at it.
template <typename T, typename Tag>
class IntrusiveList {
  using Hook = ListHook<Tag>;
  using Links = internal::ListLinks;

 public:
  IntrusiveList() { head_.prev_ = head_.next_ = &head_; }
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;
  ~IntrusiveList() {
    if (!empty()) std::abort();  // elements would point at freed memory
  }

  bool empty() const { return head_.next_ == &head_; }

  void PushBack(T* element) { AsLinks(element)->InsertBefore(&head_); }
  void PushFront(T* element) { AsLinks(element)->InsertBefore(head_.next_); }

  // Front()/Back() return the first/last element, or nullptr when empty.
  T* Front() const { return empty() ? nullptr : FromLinks(head_.next_); }
  T* Back() const { return empty() ? nullptr : FromLinks(head_.prev_); }

  // Next() returns the element after `element`, or nullptr at the end.
  T* Next(T* element) const {
    Links* next = AsLinks(element)->next_;
    return next == &head_ ? nullptr : FromLinks(next);
  }

  T* PopFront() {
    T* element = Front();
    if (element != nullptr) static_cast<Hook*>(element)->Unlink();
    return element;
  }

  // size() walks the list: O(n). For tests and invariant checks.
  std::size_t size() const {
    std::size_t n = 0;
    for (const Links* l = head_.next_; l != &head_; l = l->next_) ++n;
    return n;
  }

 private:
  static Links* AsLinks(T* element) {
    return static_cast<Links*>(static_cast<Hook*>(element));
  }
  static T* FromLinks(Links* links) {
    return static_cast<T*>(static_cast<Hook*>(links));
  }

  mutable Links head_;
};

}  // namespace baton::runtime

#endif  // BATON_SERVER_RUNTIME_INTRUSIVE_LIST_H_
