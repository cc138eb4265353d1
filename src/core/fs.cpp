#include "cfx/core/fs.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cfx/core/error.h"

namespace fs = std::filesystem;

namespace cfx {

std::string read_file(const std::string& path) {
  CFX_CHECK(fs::exists(path), "file not found: ", path);
  CFX_CHECK(!fs::is_directory(path), "expected a file but found a folder: ", path);
  std::ifstream in(path, std::ios::binary);
  CFX_CHECK(in.good(), "cannot read ", path, ": ", std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_atomic(const std::string& path, const std::string& bytes) {
  fs::path target(path);
  fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  CFX_CHECK(fs::is_directory(dir), "cannot write ", path, ": folder ", dir.string(),
            " does not exist");
  // Unique per process and call, so concurrent writers never share a temp file.
  static std::atomic<unsigned> counter{0};
  fs::path tmp = dir / (".tmp." + target.filename().string() + "." + std::to_string(getpid()) +
                        "." + std::to_string(counter++));
  {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    CFX_CHECK(f != nullptr, "cannot write ", path, ": ", std::strerror(errno));
    size_t n = std::fwrite(bytes.data(), 1, bytes.size(), f);
    bool ok = n == bytes.size() && std::fflush(f) == 0;
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) {
      std::error_code ec;
      fs::remove(tmp, ec);
      fail("cannot write ", path, ": ", std::strerror(errno));
    }
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    fail("cannot write ", path, ": ", ec.message());
  }
}

namespace {

// The pid in a write_atomic temporary's name ".tmp.<name>.<pid>.<counter>", or -1.
long temp_writer(const std::string& filename) {
  if (filename.rfind(".tmp.", 0) != 0) return -1;
  const auto last = filename.rfind('.');
  const auto prev =
      last == std::string::npos || last == 0 ? std::string::npos : filename.rfind('.', last - 1);
  if (prev == std::string::npos || prev < 4) return -1;
  const std::string pid = filename.substr(prev + 1, last - prev - 1);
  const std::string counter = filename.substr(last + 1);
  auto digits = [](const std::string& t) {
    return !t.empty() && t.size() < 12 && t.find_first_not_of("0123456789") == std::string::npos;
  };
  return digits(pid) && digits(counter) ? std::stol(pid) : -1;
}

}  // namespace

void remove_stale_temporaries(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const long pid = temp_writer(entry.path().filename().string());
    // Only a dead writer's file: another process may be writing into the same folder.
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
      fs::remove(entry.path(), ec);
  }
}

void ensure_writable_dir(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    CFX_CHECK(fs::is_directory(dir), "output path ", dir, " exists and is not a folder");
  } else {
    fs::create_directories(dir, ec);
    CFX_CHECK(!ec, "cannot create output folder ", dir, ": ", ec.message());
  }
  CFX_CHECK(::access(dir.c_str(), W_OK) == 0, "output folder ", dir,
            " is not writable: ", std::strerror(errno));
  remove_stale_temporaries(dir);
}

bool is_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

bool is_dir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

}  // namespace cfx
