// What cfx promises after a crash (docs/reliability.md): a run killed at any moment and
// resumed ends with the uninterrupted run's outputs; no output file is ever half-written;
// a full disk or a file-size limit gives one clear line; memory that cannot fit is refused
// before it is allocated.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "cfx/config.h"
#include "cfx/core/fs.h"
#include "cfx/data/image_io.h"
#include "cfx/eval/batch_store.h"
#include "cfx/report/npy.h"
#include "cli/cli_runner.h"
#include "helpers.h"

using cfx::testing::expect_user_error;
using cfx::testing::run_cfx;
using cfx::testing::shipped_model;
namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Every file under `dir` is whole: JSON parses, PNG and .npy decode, batch archives load,
// CSV and HTML end as written. Temporary files of interrupted writes (".tmp.*") are allowed
// only where a kill could leave them. Returns the number of files checked.
int expect_whole_files(const std::string& dir, bool temps_allowed) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string path = e.path().string(), name = e.path().filename().string();
    if (name.rfind(".tmp.", 0) == 0) {
      EXPECT_TRUE(temps_allowed) << "temporary file left behind: " << path;
      continue;
    }
    ++n;
    const std::string ext = e.path().extension().string();
    SCOPED_TRACE(path);
    if (ext == ".json") {
      EXPECT_NO_THROW(nlohmann::json::parse(cfx::read_file(path)));
    } else if (ext == ".png") {
      EXPECT_NO_THROW(cfx::read_image(path));
    } else if (ext == ".npy") {
      EXPECT_NO_THROW(cfx::read_npy(path));
    } else if (ext == ".pt") {
      torch::serialize::InputArchive a;
      EXPECT_NO_THROW({
        std::istringstream in(cfx::batch_file_archive(cfx::read_file(path)));
        a.load_from(in);
      }) << path;
    } else if (ext == ".csv") {
      EXPECT_TRUE(ends_with(cfx::read_file(path), "\n"));
    } else if (ext == ".html") {
      EXPECT_TRUE(ends_with(cfx::read_file(path), "</html>\n"));
    } else {
      ADD_FAILURE() << "unexpected output file " << path;
    }
  }
  return n;
}

// result.json items and eval.json summaries without what a rerun may change (time, memory).
nlohmann::json stable(nlohmann::json j) {
  if (j.is_object()) {
    for (const char* k : {"seconds", "peak_mb", "peak_mb_per_item", "run", "s_per_item",
                          "mb_per_item", "seconds_per_item", "invocation"})
      j.erase(k);
    for (auto& [k, v] : j.items()) v = stable(v);
  } else if (j.is_array()) {
    for (auto& v : j) v = stable(v);
  }
  return j;
}

// The bytes of every PNG and .npy under `dir`, by relative path.
std::map<std::string, std::string> images_and_maps(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".png" || ext == ".npy"))
      out[fs::relative(e.path(), dir).string()] = cfx::read_file(e.path().string());
  }
  return out;
}

const std::string kEvalArgs =
    "eval -q --model " + shipped_model("fashion-mnist-cnn.pt") +
    " --data fashion-mnist --n 8 --batch-size 2 --methods pixel,bbmp --set pixel.steps=60"
    " --set bbmp.steps=30 --seed 3 --fid-net none --cout-steps 0 --attributes none"
    " --curve-steps 8 --resume --out ";

// Starts `cfx <args>` in its own process; returns its pid.
pid_t spawn_cfx(const std::string& args, const std::string& log) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string cmd = "exec " + std::string(CFX_BIN) + " " + args + " >" + log + " 2>&1 </dev/null";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

}  // namespace

TEST(CliReliability, TenKillsAtRandomMomentsThenResumeGiveTheUninterruptedRun) {
  auto dir = cfx::testing::temp_dir("cli_reliability_kills");
  const auto t0 = std::chrono::steady_clock::now();
  auto whole = run_cfx(kEvalArgs + dir + "/whole");
  ASSERT_EQ(whole.code, 0) << whole.err;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // Ten runs into one folder, each SIGKILLed after a seeded random delay (each resumes what
  // the ones before kept, so the kills fall in every phase: loading, batches, joining and
  // writing the reports; a run may also finish before its kill, and the next one rewrites).
  const std::string killed = dir + "/killed";
  std::mt19937 rng(18);
  std::uniform_real_distribution<double> delay(0.05, std::max(0.5, 0.8 * seconds));
  int finished = 0;
  for (int k = 0; k < 10; ++k) {
    pid_t pid = spawn_cfx(kEvalArgs + killed, dir + "/kill.log");
    ASSERT_GT(pid, 0);
    const double wait = delay(rng);
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFEXITED(status)) {
      ASSERT_EQ(WEXITSTATUS(status), 0) << cfx::read_file(dir + "/kill.log");
      ++finished;
    }
    const int files = fs::exists(killed) ? expect_whole_files(killed, /*temps_allowed=*/true) : 0;
    std::cout << "[ info ] kill " << k << " after " << wait << " s: " << files << " files\n";
  }
  auto last = run_cfx(kEvalArgs + killed);
  ASSERT_EQ(last.code, 0) << last.err;
  EXPECT_GT(expect_whole_files(killed, /*temps_allowed=*/false), 30);
  EXPECT_EQ(stable(nlohmann::json::parse(cfx::read_file(killed + "/eval.json"))),
            stable(nlohmann::json::parse(cfx::read_file(dir + "/whole/eval.json"))));
  for (const char* m : {"pixel", "bbmp"}) {
    auto a = nlohmann::json::parse(cfx::read_file(killed + "/" + m + "/result.json"));
    auto b = nlohmann::json::parse(cfx::read_file(dir + "/whole/" + m + "/result.json"));
    EXPECT_EQ(stable(a["items"]), stable(b["items"])) << m;
    EXPECT_EQ(stable(a["summary"]), stable(b["summary"])) << m;
  }
  EXPECT_EQ(images_and_maps(killed), images_and_maps(dir + "/whole"));
  std::cout << "[ info ] uninterrupted run " << seconds << " s; " << finished
            << " of 10 killed runs finished before their kill\n";
}

TEST(CliReliability, AFileSizeLimitGivesOneLineAndNoHalfWrittenFile) {
  auto dir = cfx::testing::temp_dir("cli_reliability_ulimit");
  // ulimit -f counts KiB. Each limit stops a different write: a batch file, an image, the
  // report, a trained model. Without SIGXFSZ ignored the kernel killed cfx (exit 153).
  const std::string explain = "explain -q -m " + shipped_model("fashion-mnist-cnn.pt") +
                              " --data fashion-mnist --n 8 --steps 5 --out ";
  for (int kib : {1, 8, 40}) {
    const std::string out = dir + "/explain" + std::to_string(kib);
    auto r = run_cfx(explain + out, "ulimit -f " + std::to_string(kib) + ";");
    expect_user_error(r, "File too large");
    if (fs::exists(out)) expect_whole_files(out, /*temps_allowed=*/false);
  }
  const std::string out = dir + "/trained.pt";
  auto t = run_cfx("train classifier -q --data fashion-mnist --limit 64 --epochs 1 --out " + out,
                   "ulimit -f 16;");
  expect_user_error(t, "File too large");
  EXPECT_FALSE(fs::exists(out));
  // The same run without the limit writes everything.
  ASSERT_EQ(run_cfx(explain + dir + "/unlimited").code, 0);
}

TEST(CliReliability, AFullDiskGivesOneLineAndNoHalfWrittenFile) {
  auto dir = cfx::testing::temp_dir("cli_reliability_full_disk");
  const std::string disk = dir + "/disk";
  fs::create_directories(disk);
  // A 256 KiB tmpfs: room for the first batch files, not for the whole run.
  if (::mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=256k") != 0)
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root): " << std::strerror(errno);
  auto r = run_cfx("explain -q -m " + shipped_model("fashion-mnist-cnn.pt") +
                   " --data fashion-mnist --n 64 --batch-size 8 --steps 5 --out " + disk + "/out");
  const bool whole = fs::exists(disk + "/out") && [&] {
    expect_whole_files(disk + "/out", /*temps_allowed=*/false);
    return true;
  }();
  ::umount(disk.c_str());
  EXPECT_TRUE(whole);
  expect_user_error(r, "No space left on device");
}

TEST(CliReliability, MemoryThatCannotFitIsRefusedBeforeAllocating) {
  // CFX_MEMORY_LIMIT_MB stands in for a small machine. A batch whose lower bound exceeds it
  // is refused naming the largest batch size that fits; that one runs.
  auto dir = cfx::testing::temp_dir("cli_reliability_memory");
  const std::string args = "explain -q -m " + shipped_model("fashion-mnist-cnn.pt") +
                           " --data fashion-mnist --n 300 --method pixel --steps 2 --out " + dir;
  auto r = run_cfx(args + "/a --batch-size 300", "CFX_MEMORY_LIMIT_MB=40");
  expect_user_error(r, "a batch of 300 item(s) of 1x28x28 needs at least");
  const std::string key = "lower the batch size (--batch-size) to at most ";
  const auto at = r.err.find(key);
  ASSERT_NE(at, std::string::npos) << r.err;
  const int fits = std::atoi(r.err.c_str() + at + key.size());
  EXPECT_GE(fits, 1);
  EXPECT_LT(fits, 300);
  EXPECT_FALSE(fs::exists(dir + "/a/result.json"));
  auto ok = run_cfx(args + "/b --batch-size " + std::to_string(fits), "CFX_MEMORY_LIMIT_MB=40");
  EXPECT_EQ(ok.code, 0) << ok.err;
  // A TorchScript model with a mistyped input shape is refused before its probe allocates.
  const std::string make = dir + "/make.py";
  cfx::write_atomic(make,
                    "import sys, torch\n"
                    "class M(torch.nn.Module):\n"
                    "    def forward(self, x):\n"
                    "        return x.mean(dim=(2, 3))[:, :1].repeat(1, 2)\n"
                    "torch.jit.script(M()).save(sys.argv[1])\n");
  ASSERT_EQ(std::system((std::string(CFX_PYTHON) + " " + make + " " + dir + "/m.pt").c_str()), 0);
  auto big = run_cfx("explain -q -m " + dir + "/m.pt --input-shape 3,10000,10000 --data shapes" +
                         " --n 2 --out " + dir + "/c",
                     "CFX_MEMORY_LIMIT_MB=1000");
  expect_user_error(big, "needs at least 4.80 GB of memory but 1.05 GB are available");
}
