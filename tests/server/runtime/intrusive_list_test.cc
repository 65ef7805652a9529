// Copyright 2026 The Baton Authors.

#include "server/runtime/intrusive_list.h"

#include <vector>

#include "gtest/gtest.h"

namespace baton::runtime {
namespace {

struct TagA {};
struct TagB {};
struct Item : ListHook<TagA>, ListHook<TagB> {
  explicit Item(int v) : value(v) {}
  int value;
};

template <typename Tag>
std::vector<int> Values(const IntrusiveList<Item, Tag>& list) {
  std::vector<int> out;
  for (Item* i = list.Front(); i != nullptr; i = list.Next(i)) out.push_back(i->value);
  return out;
}

TEST(IntrusiveListTest, ElementOnTwoListsUnlinksFromEachIndependently) {
  IntrusiveList<Item, TagA> a;
  IntrusiveList<Item, TagB> b;
  Item one(1), two(2), three(3);
  a.PushBack(&one);
  a.PushBack(&two);
  a.PushFront(&three);
  b.PushBack(&two);
  EXPECT_EQ(Values(a), (std::vector<int>{3, 1, 2}));
  two.ListHook<TagA>::Unlink();
  EXPECT_EQ(Values(a), (std::vector<int>{3, 1}));
  EXPECT_EQ(Values(b), (std::vector<int>{2}));
  EXPECT_TRUE(two.ListHook<TagB>::is_linked());
  EXPECT_EQ(b.PopFront(), &two);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(a.size(), 2u);
  while (a.PopFront() != nullptr) {
  }
  EXPECT_FALSE(one.ListHook<TagA>::is_linked());
}

}  // namespace
}  // namespace baton::runtime
