#include "cfx/core/fs.h"

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
