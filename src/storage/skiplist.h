// SkipList: the sorted in-memory index under a memtable.
//
// Keys are stored by value in nodes carved from an Arena that must outlive the
// list; nothing is ever removed, so nodes live until the arena is freed.
// Thread-safety: Insert needs external synchronisation (one writer at a time),
// while any number of readers (Contains, Iterator) may run concurrently with the
// writer and with each other without locks. This holds because a node is fully
// initialised before it is published with a release store into its
// predecessors' next pointers, and readers follow next pointers with acquire
// loads; max_height_ is read relaxed because a reader that sees a stale height
// only starts its search lower.
//
// Comparator is a callable object: int operator()(const Key& a, const Key& b)
// returning <0, 0, >0.
#pragma once

#include <atomic>
#include <cstdint>

#include "common/assert.h"
#include "common/random.h"
#include "storage/arena.h"

namespace dkv::storage {

template <typename Key, class Comparator>
class SkipList {
 private:
  struct Node;

 public:
  // Levels a node may reach. With kBranching 4, 12 levels stay efficient up to
  // 4^12 (about 16 million) entries, far above a 4-64 MiB memtable's count.
  static constexpr int kMaxHeight = 12;
  // A node reaches level i+1 with probability 1/kBranching.
  static constexpr uint64_t kBranching = 4;

  // arena not owned; it must outlive the list. seed drives node heights, so a
  // given seed and insertion order always build the same shape.
  SkipList(Comparator cmp, Arena* arena, uint64_t seed = 0xdeadbeef)
      : compare_(cmp), arena_(arena), head_(NewNode(Key(), kMaxHeight)), rng_(seed) {
    for (int i = 0; i < kMaxHeight; i++) head_->SetNext(i, nullptr);
  }
  SkipList(const SkipList&) = delete;
  SkipList& operator=(const SkipList&) = delete;

  // REQUIRES: nothing equal to key is in the list; external synchronisation
  // against other Insert calls.
  void Insert(const Key& key) {
    Node* prev[kMaxHeight];
    Node* x = FindGreaterOrEqual(key, prev);
    // Duplicates are a caller bug: internal keys carry unique sequence numbers.
    DKV_DASSERT(x == nullptr || !Equal(key, x->key));
    (void)x;

    const int height = RandomHeight();
    const int max_height = GetMaxHeight();
    if (height > max_height) {
      for (int i = max_height; i < height; i++) prev[i] = head_;
      // A reader that sees the new height before the node is linked finds
      // nullptr from head_ at the new levels and simply drops down a level.
      max_height_.store(height, std::memory_order_relaxed);
    }

    Node* node = NewNode(key, height);
    for (int i = 0; i < height; i++) {
      // The node is not yet visible, so its own next pointers may be relaxed;
      // SetNext (release) on prev publishes it with its key and links.
      node->NoBarrierSetNext(i, prev[i]->NoBarrierNext(i));
      prev[i]->SetNext(i, node);
    }
  }

  // True if an entry equal to key is in the list. Thread-safe.
  bool Contains(const Key& key) const {
    Node* x = FindGreaterOrEqual(key, nullptr);
    return x != nullptr && Equal(key, x->key);
  }

  // A cursor over the list. Not thread-safe itself, but many iterators may run
  // concurrently with one writer. Entries inserted after the iterator was
  // positioned may or may not be seen.
  class Iterator {
   public:
    explicit Iterator(const SkipList* list) : list_(list), node_(nullptr) {}

    bool Valid() const { return node_ != nullptr; }
    // REQUIRES: Valid()
    const Key& key() const {
      DKV_DASSERT(Valid());
      return node_->key;
    }
    // REQUIRES: Valid()
    void Next() {
      DKV_DASSERT(Valid());
      node_ = node_->Next(0);
    }
    // REQUIRES: Valid(). There are no back links: we search for the last node
    // before the current key, O(log n).
    void Prev() {
      DKV_DASSERT(Valid());
      node_ = list_->FindLessThan(node_->key);
      if (node_ == list_->head_) node_ = nullptr;
    }
    // Positions at the first entry >= target.
    void Seek(const Key& target) { node_ = list_->FindGreaterOrEqual(target, nullptr); }
    void SeekToFirst() { node_ = list_->head_->Next(0); }
    void SeekToLast() {
      node_ = list_->FindLast();
      if (node_ == list_->head_) node_ = nullptr;
    }

   private:
    const SkipList* list_;
    Node* node_;
  };

 private:
  struct Node {
    explicit Node(const Key& k) : key(k) {}
    Key const key;

    Node* Next(int n) {
      DKV_DASSERT(n >= 0);
      return next_[n].load(std::memory_order_acquire);
    }
    void SetNext(int n, Node* x) {
      DKV_DASSERT(n >= 0);
      next_[n].store(x, std::memory_order_release);
    }
    Node* NoBarrierNext(int n) { return next_[n].load(std::memory_order_relaxed); }
    void NoBarrierSetNext(int n, Node* x) { next_[n].store(x, std::memory_order_relaxed); }

   private:
    // Really next_[height]: the node is allocated with room for height links.
    std::atomic<Node*> next_[1];
  };

  Node* NewNode(const Key& key, int height) {
    DKV_DASSERT(height >= 1 && height <= kMaxHeight);
    char* mem = arena_->AllocateAligned(sizeof(Node) + sizeof(std::atomic<Node*>) *
                                                           static_cast<size_t>(height - 1));
    return new (mem) Node(key);
  }

  int RandomHeight() {
    int height = 1;
    while (height < kMaxHeight && rng_.OneIn(kBranching)) height++;
    DKV_DASSERT(height > 0);
    DKV_DASSERT(height <= kMaxHeight);
    return height;
  }

  int GetMaxHeight() const { return max_height_.load(std::memory_order_relaxed); }
  bool Equal(const Key& a, const Key& b) const { return compare_(a, b) == 0; }
  // True if key sorts after node n (nullptr counts as +infinity).
  bool KeyIsAfterNode(const Key& key, Node* n) const {
    return n != nullptr && compare_(n->key, key) < 0;
  }

  // First node >= key, or nullptr. Fills prev[level] with the last node < key
  // at each level when prev is not null.
  Node* FindGreaterOrEqual(const Key& key, Node** prev) const {
    Node* x = head_;
    int level = GetMaxHeight() - 1;
    // Remember the node that stopped us at the level above: if the next level
    // stops at the same node we skip a repeated comparison against it.
    Node* last_bigger = nullptr;
    while (true) {
      Node* next = x->Next(level);
      if (next != last_bigger && KeyIsAfterNode(key, next)) {
        x = next;
      } else {
        if (prev != nullptr) prev[level] = x;
        if (level == 0) return next;
        last_bigger = next;
        level--;
      }
    }
  }

  // Last node < key, or head_.
  Node* FindLessThan(const Key& key) const {
    Node* x = head_;
    int level = GetMaxHeight() - 1;
    while (true) {
      DKV_DASSERT(x == head_ || compare_(x->key, key) < 0);
      Node* next = x->Next(level);
      if (next == nullptr || compare_(next->key, key) >= 0) {
        if (level == 0) return x;
        level--;
      } else {
        x = next;
      }
    }
  }

  // Last node, or head_ if the list is empty.
  Node* FindLast() const {
    Node* x = head_;
    int level = GetMaxHeight() - 1;
    while (true) {
      Node* next = x->Next(level);
      if (next == nullptr) {
        if (level == 0) return x;
        level--;
      } else {
        x = next;
      }
    }
  }

  Comparator const compare_;
  Arena* const arena_;
  Node* const head_;
  // Height of the tallest node; only the writer changes it.
  std::atomic<int> max_height_{1};
  // Only the writer draws from it.
  Rng rng_;
};

}  // namespace dkv::storage
