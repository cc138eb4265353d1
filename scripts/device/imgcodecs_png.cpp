// Device builds only (scripts/device/check.sh): the GPU machine has no OpenCV, and Debian's
// libopencv_imgcodecs drags in GDAL and some 130 libraries, more than the machine can be sent.
// This file stands in for the four imgcodecs calls cfx links: PNG encoding of 8-bit images
// (what cfx writes) done with zlib, and decoding that reports every image as unreadable, so
// cfx's own check turns it into its usual one-line error. Never part of a normal build.
#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

namespace {

void put32(std::vector<uchar>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uchar>(v >> s));
}

void chunk(std::vector<uchar>& out, const char* type, const std::vector<uchar>& data) {
  put32(out, static_cast<uint32_t>(data.size()));
  size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  uLong crc = crc32(0L, out.data() + start, static_cast<uInt>(out.size() - start));
  put32(out, static_cast<uint32_t>(crc));
}

}  // namespace

namespace cv {

bool imencode(const String& ext, InputArray img, std::vector<uchar>& buf, const std::vector<int>&) {
  Mat m = img.getMat();
  if (ext != ".png" || m.empty() || m.depth() != CV_8U || m.dims != 2) return false;
  const int c = m.channels();
  if (c != 1 && c != 3 && c != 4) return false;
  std::vector<uchar> raw;
  raw.reserve(static_cast<size_t>(m.rows) * (m.cols * c + 1));
  for (int y = 0; y < m.rows; ++y) {
    raw.push_back(0);  // filter: none
    const uchar* row = m.ptr<uchar>(y);
    for (int x = 0; x < m.cols; ++x) {
      const uchar* p = row + x * c;
      if (c == 1) raw.push_back(p[0]);
      if (c >= 3) raw.insert(raw.end(), {p[2], p[1], p[0]});  // OpenCV's BGR -> RGB
      if (c == 4) raw.push_back(p[3]);
    }
  }
  uLongf zlen = compressBound(static_cast<uLong>(raw.size()));
  std::vector<uchar> z(zlen);
  if (compress2(z.data(), &zlen, raw.data(), static_cast<uLong>(raw.size()), 6) != Z_OK)
    return false;
  z.resize(zlen);
  buf.assign({0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
  std::vector<uchar> ihdr;
  put32(ihdr, static_cast<uint32_t>(m.cols));
  put32(ihdr, static_cast<uint32_t>(m.rows));
  ihdr.insert(ihdr.end(), {8, static_cast<uchar>(c == 1 ? 0 : c == 3 ? 2 : 6), 0, 0, 0});
  chunk(buf, "IHDR", ihdr);
  chunk(buf, "IDAT", z);
  chunk(buf, "IEND", {});
  return true;
}

Mat imdecode(InputArray, int) { return Mat(); }

Mat imread(const String&, int) { return Mat(); }

bool imwrite(const String& filename, InputArray img, const std::vector<int>& params) {
  std::vector<uchar> buf;
  if (!imencode(".png", img, buf, params)) return false;
  std::ofstream f(filename, std::ios::binary);
  f.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
  return static_cast<bool>(f);
}

}  // namespace cv
