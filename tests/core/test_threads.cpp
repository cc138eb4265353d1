#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "cfx/core/error.h"
#include "cfx/core/threads.h"

namespace {

// Sets an environment variable for one test and puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (had_)
      setenv(name_, old_.c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

// Leaves the thread count as the test found it.
struct RestoreThreads {
  int n = cfx::threads();
  ~RestoreThreads() { cfx::set_threads(n); }
};

}  // namespace

TEST(Threads, AvailableCpusIsWithinTheMachine) {
  int n = cfx::available_cpus();
  EXPECT_GE(n, 1);
  unsigned hw = std::thread::hardware_concurrency();
  if (hw > 0) EXPECT_LE(n, static_cast<int>(hw));
}

TEST(Threads, DefaultFollowsOmpNumThreadsElseTheCpus) {
  RestoreThreads restore;
  {
    ScopedEnv env("OMP_NUM_THREADS", "3");
    EXPECT_EQ(cfx::default_threads(), 3);
    EXPECT_EQ(cfx::set_threads(0), 3);
    EXPECT_NE(cfx::threads_description().find("3 threads (from OMP_NUM_THREADS"), std::string::npos)
        << cfx::threads_description();
  }
  for (const char* junk : {"", "abc", "-2", "0", "2x"}) {
    ScopedEnv env("OMP_NUM_THREADS", junk);
    EXPECT_EQ(cfx::default_threads(), cfx::available_cpus()) << "'" << junk << "'";
  }
  ScopedEnv env("OMP_NUM_THREADS", nullptr);
  EXPECT_EQ(cfx::set_threads(0), cfx::available_cpus());
  EXPECT_NE(cfx::threads_description().find("one per available CPU"), std::string::npos);
}

TEST(Threads, ExplicitCountWinsAndIsBounded) {
  RestoreThreads restore;
  ScopedEnv env("OMP_NUM_THREADS", "1");
  EXPECT_EQ(cfx::set_threads(2), 2);
  EXPECT_EQ(cfx::threads(), 2);
  EXPECT_NE(cfx::threads_description().find("2 threads (as asked"), std::string::npos);
  EXPECT_EQ(cfx::set_threads(1), 1);
  EXPECT_NE(cfx::threads_description().find("1 thread (as asked"), std::string::npos);
  EXPECT_THROW(cfx::set_threads(5000), cfx::Error);
}
