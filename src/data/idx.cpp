#include "cfx/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"

namespace cfx {

namespace {

// gzread reads plain files unchanged, so one path serves .gz and uncompressed IDX files.
std::string read_maybe_gzipped(const std::string& path) {
  CFX_CHECK(is_file(path), "file not found: ", path);
  gzFile f = gzopen(path.c_str(), "rb");
  CFX_CHECK(f != nullptr, "cannot open ", path);
  std::unique_ptr<gzFile_s, int (*)(gzFile)> guard(f, gzclose);
  gzbuffer(f, 1 << 18);
  std::string out;
  constexpr unsigned kChunk = 1u << 22;
  while (true) {
    // Chunks grow with what was read: small files stay cheap, large ones take few reads.
    const unsigned chunk =
        static_cast<unsigned>(std::min<size_t>(kChunk, std::max<size_t>(out.size(), 1u << 16)));
    size_t old = out.size();
    out.resize(old + chunk);
    int n = gzread(f, &out[old], chunk);
    if (n < 0) {
      int err = Z_OK;
      const char* msg = gzerror(f, &err);
      fail("cannot read ", path, ": corrupt or truncated gzip data (", msg,
           "); delete the file and reinstall it");
    }
    out.resize(old + static_cast<size_t>(n));
    if (n == 0) break;
  }
  int err = Z_OK;
  const char* msg = gzerror(f, &err);
  CFX_CHECK(err == Z_OK || err == Z_STREAM_END, "cannot read ", path,
            ": corrupt or truncated gzip data (", msg, "); delete the file and reinstall it");
  return out;
}

uint32_t be32(const std::string& s, size_t pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + pos;
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string gzip(const std::string& raw, const std::string& path) {
  z_stream zs{};
  // windowBits 15 + 16 asks zlib for a gzip header instead of a zlib one.
  CFX_CHECK(
      deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK,
      "cannot write ", path, ": zlib initialisation failed");
  std::string out(deflateBound(&zs, raw.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(&out[0]);
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  CFX_CHECK(rc == Z_STREAM_END, "cannot write ", path, ": gzip compression failed");
  return out;
}

}  // namespace

IdxArray read_idx(const std::string& path, int ndims, const std::string& what) {
  CFX_ASSERT(ndims >= 1 && ndims <= 255);
  const uint32_t magic = 0x800u | static_cast<uint32_t>(ndims);
  std::string bytes = read_maybe_gzipped(path);
  CFX_CHECK(bytes.size() >= 4, "cannot read IDX file ", path, ": only ", bytes.size(),
            " bytes, too short for a header");
  const uint32_t got = be32(bytes, 0);
  CFX_CHECK(got == magic, "cannot read IDX file ", path, ": bad magic number ", hex32(got),
            " (expected ", hex32(magic), " for unsigned bytes in ", ndims, " dimension",
            ndims == 1 ? "" : "s", ")");
  const size_t header = 4 + 4 * size_t(ndims);
  CFX_CHECK(bytes.size() >= header, "cannot read IDX file ", path, ": truncated header (",
            bytes.size(), " bytes, need ", header, ")");

  IdxArray out;
  uint64_t expected = 1;
  for (int i = 0; i < ndims; ++i) {
    uint32_t d = be32(bytes, 4 + 4 * size_t(i));
    CFX_CHECK(d > 0, "cannot read IDX file ", path, ": dimension ", i, " is 0");
    out.dims.push_back(d);
    // Saturate rather than overflow: a corrupt header must produce a message, not UB.
    expected = expected > std::numeric_limits<uint64_t>::max() / d
                   ? std::numeric_limits<uint64_t>::max()
                   : expected * d;
  }
  const uint64_t payload = bytes.size() - header;
  CFX_CHECK(payload >= expected, "cannot read IDX file ", path, ": truncated: expected ", expected,
            " bytes of ", what, ", got ", payload);
  CFX_CHECK(payload == expected, "cannot read IDX file ", path, ": expected ", expected,
            " bytes of ", what, " but found ", payload - expected, " extra bytes after them");
  bytes.erase(0, header);
  out.data = std::move(bytes);
  return out;
}

torch::Tensor read_idx_images(const std::string& path) {
  IdxArray a = read_idx(path, 3, "pixels");
  auto u8 = torch::from_blob(&a.data[0], {a.dims[0], 1, a.dims[1], a.dims[2]}, torch::kUInt8);
  return u8.to(torch::kFloat32).div_(255.0);
}

torch::Tensor read_idx_labels(const std::string& path) {
  IdxArray a = read_idx(path, 1, "labels");
  auto u8 = torch::from_blob(&a.data[0], {a.dims[0]}, torch::kUInt8);
  return u8.to(torch::kInt64);
}

void write_idx(const std::string& path, const std::vector<int64_t>& dims, const std::string& data) {
  CFX_CHECK(!dims.empty() && dims.size() <= 255, "write_idx ", path,
            ": need 1 to 255 dimensions, got ", dims.size());
  uint64_t n = 1;
  std::string raw;
  auto put32 = [&raw](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) raw.push_back(static_cast<char>((v >> s) & 0xff));
  };
  put32(0x800u | static_cast<uint32_t>(dims.size()));
  for (int64_t d : dims) {
    CFX_CHECK(d > 0 && d <= std::numeric_limits<int32_t>::max(), "write_idx ", path, ": dimension ",
              d, " out of range");
    put32(static_cast<uint32_t>(d));
    n *= static_cast<uint64_t>(d);
  }
  CFX_CHECK(n == data.size(), "write_idx ", path, ": dimensions hold ", n, " bytes but ",
            data.size(), " were given");
  raw += data;
  const bool gz = path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  write_atomic(path, gz ? gzip(raw, path) : raw);
}

}  // namespace cfx
