#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "helpers.h"

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

// A killed run leaves write_atomic's temporaries; the next run into the folder removes those
// of dead writers only, so two processes writing into one folder never lose each other's.
TEST(Fs, EnsureWritableDirRemovesOnlyDeadWritersTemporaries) {
  auto dir = cfx::testing::temp_dir("fs_stale_temps");
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);  // its pid now names no process
  const std::string dead = dir + "/.tmp.result.json." + std::to_string(child) + ".3";
  const std::string live = dir + "/.tmp.result.json." + std::to_string(::getpid()) + ".4";
  const std::string other = dir + "/.tmp.notes";
  for (const auto& p : {dead, live, other}) cfx::write_atomic(p, "x");
  cfx::ensure_writable_dir(dir);
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_TRUE(std::filesystem::exists(live));
  EXPECT_TRUE(std::filesystem::exists(other));
}
