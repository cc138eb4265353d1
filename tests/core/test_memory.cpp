#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "cfx/core/memory.h"

TEST(PeakMemory, SeesATemporaryAllocationAfterItIsFreed) {
  cfx::PeakMemory mem;
  if (!mem.available()) GTEST_SKIP() << "no /proc/self/clear_refs here";
  {
    auto big = torch::ones({64, 1024, 1024}, torch::kFloat32);  // 256 MB, touched
    EXPECT_EQ(big[63][1023][1023].item<float>(), 1.f);          // every page was written
  }
  double peak = mem.peak_mb();
  EXPECT_GE(peak, 250.0);
  EXPECT_LT(peak, 1024.0);
  // A new measurement starts from the current level: the freed block does not count.
  cfx::PeakMemory again;
  auto small = torch::ones({1024, 1024}, torch::kFloat32);  // 4 MB
  EXPECT_LT(again.peak_mb(), 64.0);
  EXPECT_GE(again.peak_mb(), 0.0);
}
