// Clang thread-safety annotations (checked with -Wthread-safety under clang,
// no-ops under gcc), and a Mutex type that carries them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define DKV_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define DKV_THREAD_ANNOTATION(x)
#endif

#define GUARDED_BY(x) DKV_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) DKV_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) DKV_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) DKV_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) DKV_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) DKV_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define CAPABILITY(x) DKV_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY DKV_THREAD_ANNOTATION(scoped_lockable)
#define NO_THREAD_SAFETY_ANALYSIS DKV_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace dkv {

class CAPABILITY("mutex") Mutex {
 public:
  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  void AssertHeld() {}
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A condition variable bound to one Mutex. Wait() REQUIRES the mutex held.
class CondVar {
 public:
  explicit CondVar(Mutex* mu) : mu_(mu) {}
  // REQUIRES: *mu_ held by the caller. Not annotated: clang's analysis names
  // the lock `cv.mu_`, not the caller's Mutex, and would warn at every wait.
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_->native(), std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // Returns false on timeout. REQUIRES: *mu_ held (see Wait).
  bool WaitForMicros(int64_t micros) {
    std::unique_lock<std::mutex> lock(mu_->native(), std::adopt_lock);
    auto r = cv_.wait_for(lock, std::chrono::microseconds(micros));
    lock.release();
    return r == std::cv_status::no_timeout;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  Mutex* const mu_;
  std::condition_variable cv_;
};

}  // namespace dkv
