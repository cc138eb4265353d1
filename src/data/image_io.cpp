#include "cfx/data/image_io.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/log.h"

namespace cfx {

namespace {

[[noreturn]] void bad_image(const std::string& path, const std::string& why) {
  fail("cannot read image ", path, ": not a valid image file (", why, ")");
}

uint32_t read_be32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// libpng and libjpeg print warnings to stderr (and libjpeg silently pads the missing rows
// with grey) when a file is cut short, so truncated PNG and JPEG files are detected here,
// before the decoder sees them. Everything else is left to the decoder.
void check_not_truncated(const std::string& path, const std::string& bytes) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  static const unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n >= 8 && std::memcmp(b, kPng, 8) == 0) {
    // PNG: a sequence of chunks (length, type, data, crc) that must end with IEND.
    size_t pos = 8;
    while (true) {
      if (pos + 12 > n) bad_image(path, "truncated PNG: the file ends inside a chunk");
      uint32_t len = read_be32(b + pos);
      if (len > n - pos - 12) bad_image(path, "truncated PNG: the file ends inside a chunk");
      if (std::memcmp(b + pos + 4, "IEND", 4) == 0) return;
      pos += 12 + size_t(len);
    }
  }
  if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) {
    // JPEG: entropy-coded data stuffs every 0xFF with 0x00, so FF D9 only occurs as the
    // end-of-image marker. Trailing bytes after it (camera trailers) are allowed.
    for (size_t i = n - 1; i >= 3; --i) {
      if (b[i] == 0xd9 && b[i - 1] == 0xff) return;
    }
    bad_image(path, "truncated JPEG: no end-of-image marker");
  }
}

// Wraps channel `c` of a contiguous float [C, H, W] tensor without copying.
cv::Mat plane(const torch::Tensor& chw, int64_t c) {
  return cv::Mat(static_cast<int>(chw.size(1)), static_cast<int>(chw.size(2)), CV_32FC1,
                 chw[c].data_ptr<float>());
}

void check_chw(const torch::Tensor& image, const char* fn) {
  CFX_CHECK(image.defined() && image.dim() == 3, fn, ": expected an image [C, H, W], got ",
            image.defined() ? image.sizes() : c10::IntArrayRef{});
  CFX_CHECK(image.numel() > 0, fn, ": the image is empty, shape ", image.sizes());
}

}  // namespace

torch::Tensor read_image(const std::string& path) {
  std::string bytes = read_file(path);
  if (bytes.empty()) bad_image(path, "the file is empty");
  if (bytes.size() > size_t(INT32_MAX)) bad_image(path, "larger than 2 GiB");
  check_not_truncated(path, bytes);

  cv::Mat mat;
  try {
    cv::Mat buf(1, static_cast<int>(bytes.size()), CV_8UC1, bytes.data());
    mat = cv::imdecode(buf, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    bad_image(path, e.what());
  }
  if (mat.empty()) bad_image(path, "unrecognised format or corrupt data");

  double scale = 1.0;
  switch (mat.depth()) {
    case CV_8U:
      scale = 1.0 / 255.0;
      break;
    case CV_16U:
      scale = 1.0 / 65535.0;
      break;
    case CV_32F:
      break;
    default:
      bad_image(path,
                str("unsupported pixel depth ", mat.depth(), "; save it as an 8- or 16-bit PNG"));
  }

  // Drop alpha and reorder OpenCV's BGR to RGB. OpenCV expands grey+alpha PNGs to BGRA, so
  // the PNG header's colour type (4 = grey + alpha) is what tells that the image is grey.
  const bool grey_alpha_png = bytes.size() > 25 && bytes.compare(1, 3, "PNG") == 0 &&
                              bytes.compare(12, 4, "IHDR") == 0 && bytes[25] == 4;
  cv::Mat rgb;
  try {
    switch (grey_alpha_png && mat.channels() >= 3 ? 2 : mat.channels()) {
      case 1:
        rgb = mat;
        break;
      case 2:
        cv::extractChannel(mat, rgb, 0);
        break;
      case 3:
        cv::cvtColor(mat, rgb, cv::COLOR_BGR2RGB);
        break;
      case 4:
        cv::cvtColor(mat, rgb, cv::COLOR_BGRA2RGB);
        break;
      default:
        bad_image(path, str("unsupported channel count ", mat.channels()));
    }
    cv::Mat f;
    rgb.convertTo(f, CV_32F, scale);
    if (mat.depth() == CV_32F) cv::min(cv::max(f, 0.0), 1.0, f);
    const int c = f.channels();
    auto hwc = torch::from_blob(f.ptr<float>(), {f.rows, f.cols, c}, torch::kFloat32);
    // clone, not contiguous(): a one-channel permute is already contiguous and would still
    // point into `f`, which dies here.
    return hwc.permute({2, 0, 1}).clone(torch::MemoryFormat::Contiguous);
  } catch (const cv::Exception& e) {
    bad_image(path, e.what());
  }
}

torch::Tensor resize_image(const torch::Tensor& image, int64_t height, int64_t width) {
  check_chw(image, "resize_image");
  CFX_CHECK(height > 0 && width > 0, "resize_image: target size must be positive, got ", height,
            "x", width);
  auto src = image.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  if (src.size(1) == height && src.size(2) == width) return src.clone();
  auto out = torch::empty({src.size(0), height, width}, torch::kFloat32);
  try {
    for (int64_t c = 0; c < src.size(0); ++c) {
      cv::Mat dst = plane(out, c);
      // INTER_AREA averages source pixels when shrinking, so thin strokes do not alias away.
      cv::resize(plane(src, c), dst, dst.size(), 0, 0, cv::INTER_AREA);
      CFX_ASSERT(dst.ptr<float>() == out[c].data_ptr<float>());
    }
  } catch (const cv::Exception& e) {
    fail("cannot resize image of shape ", image.sizes(), " to ", height, "x", width, ": ",
         e.what());
  }
  return out;
}

torch::Tensor conform_image(const torch::Tensor& image, const std::vector<int64_t>& shape,
                            const std::string& what) {
  CFX_CHECK(shape.size() == 3, "conform_image: the model input shape must be {C, H, W}, got ",
            shape.size(), " values");
  CFX_CHECK(image.defined() && image.dim() == 3, what, ": expected an image [C, H, W], got ",
            image.defined() ? image.sizes() : c10::IntArrayRef{});
  if (image.size(0) != shape[0]) {
    fail(what, " has ", image.size(0), " channel", image.size(0) == 1 ? "" : "s",
         " but the model expects ", shape[0],
         shape[0] == 1 ? "; convert the image to greyscale" : "; convert the image to RGB");
  }
  if (image.size(1) == shape[1] && image.size(2) == shape[2]) return image;
  auto out = resize_image(image, shape[1], shape[2]);
  notice(str("resized ", what, " from ", image.size(1), "x", image.size(2), " to ", shape[1], "x",
             shape[2]));
  return out;
}

std::string encode_png(const torch::Tensor& image) {
  check_chw(image, "encode_png");
  const int64_t c = image.size(0);
  CFX_CHECK(c == 1 || c == 3, "encode_png: expected 1 (grey) or 3 (RGB) channels, got ", c);
  auto u8 = image.detach()
                .to(torch::kCPU, torch::kFloat32)
                .nan_to_num(0.0, 1.0, 0.0)
                .clamp(0.0, 1.0)
                .mul(255.0)
                .round()
                .to(torch::kUInt8)
                .permute({1, 2, 0})
                .contiguous();
  try {
    cv::Mat mat(static_cast<int>(u8.size(0)), static_cast<int>(u8.size(1)),
                CV_8UC(static_cast<int>(c)), u8.data_ptr<uint8_t>());
    cv::Mat bgr;
    if (c == 3) {
      cv::cvtColor(mat, bgr, cv::COLOR_RGB2BGR);
    } else {
      bgr = mat;
    }
    std::vector<uchar> buf;
    CFX_CHECK(cv::imencode(".png", bgr, buf),
              "encode_png: OpenCV could not encode an image of shape ", image.sizes());
    return std::string(buf.begin(), buf.end());
  } catch (const cv::Exception& e) {
    fail("encode_png: cannot encode an image of shape ", image.sizes(), ": ", e.what());
  }
}

void write_png(const std::string& path, const torch::Tensor& image) {
  write_atomic(path, encode_png(image));
}

}  // namespace cfx
