#include <gtest/gtest.h>

#include <filesystem>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"

namespace fs = std::filesystem;

TEST(Fs, WriteAtomicRoundTripsAndLeavesNoTemp) {
  auto dir = fs::temp_directory_path() / "cfx_test_fs";
  fs::remove_all(dir);
  cfx::ensure_writable_dir(dir.string());
  auto path = (dir / "a.txt").string();
  cfx::write_atomic(path, "hello");
  EXPECT_EQ(cfx::read_file(path), "hello");
  int entries = 0;
  for (auto& e : fs::directory_iterator(dir)) entries += e.is_regular_file();
  EXPECT_EQ(entries, 1);
  fs::remove_all(dir);
}

TEST(Fs, MissingFileAndFolderAreUserErrors) {
  EXPECT_THROW(cfx::read_file("/nonexistent/cfx/file"), cfx::Error);
  EXPECT_THROW(cfx::write_atomic("/nonexistent/cfx/file", "x"), cfx::Error);
  EXPECT_THROW(cfx::ensure_writable_dir("/proc/cfx_cannot_create"), cfx::Error);
}
