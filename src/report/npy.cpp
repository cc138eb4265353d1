#include "cfx/report/npy.h"

#include <cstring>
#include <regex>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"

namespace cfx {

void write_npy(const std::string& path, const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  std::string shape = "(";
  for (int64_t i = 0; i < c.dim(); ++i) shape += std::to_string(c.size(i)) + ", ";
  if (c.dim() >= 2) shape.resize(shape.size() - 1);  // "(28, 28)"; one element keeps "(5,)"
  if (c.dim() >= 2)
    shape.back() = ')';
  else
    shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64.
  size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::string bytes = "\x93NUMPY";
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>((header.size() >> 8) & 0xff);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(c.data_ptr<float>()), c.numel() * sizeof(float));
  write_atomic(path, bytes);
}

torch::Tensor read_npy(const std::string& path) {
  CFX_CHECK(is_file(path), "npy file not found: ", path);
  std::string b = read_file(path);
  CFX_CHECK(b.size() >= 10 && b.compare(0, 6, "\x93NUMPY") == 0, path, " is not a .npy file");
  size_t hlen = static_cast<unsigned char>(b[8]) | (static_cast<unsigned char>(b[9]) << 8);
  CFX_CHECK(b[6] == 1 && b.size() >= 10 + hlen, path, ": unsupported .npy version or header");
  std::string header = b.substr(10, hlen);
  std::smatch m;
  CFX_CHECK(std::regex_search(header, m, std::regex("'descr': *'<f([48])'")), path,
            ": only little-endian float32/float64 arrays are supported");
  const bool f8 = m[1] == "8";
  CFX_CHECK(header.find("'fortran_order': False") != std::string::npos, path,
            ": Fortran-ordered arrays are not supported");
  CFX_CHECK(std::regex_search(header, m, std::regex("'shape': *\\(([0-9, ]*)\\)")), path,
            ": no shape in the .npy header");
  std::vector<int64_t> shape;
  std::string dims = m[1];
  const std::regex number("[0-9]+");
  const size_t esize = f8 ? 8 : 4;
  const uint64_t data_bytes = b.size() - 10 - hlen;
  // The element count may not exceed what the file holds: checked per dimension, so a
  // corrupt header can neither overflow the product nor ask for a huge tensor (fuzz_npy).
  uint64_t count = 1, nonzero = 1;  // nonzero: the product of the dimensions other than 0
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
    const std::string digits = it->str();
    CFX_CHECK(digits.size() <= 12, path, ": dimension ", digits.substr(0, 20),
              " in the .npy header is too large");
    const uint64_t d = std::stoull(digits);
    CFX_CHECK(d == 0 || count <= data_bytes / esize / d, path,
              ": data size does not match its shape");
    // An empty array still gets strides from its other dimensions: bounded, or LibTorch's
    // stride product overflows (fuzz_npy).
    CFX_CHECK(d == 0 || nonzero <= (uint64_t{1} << 40) / d, path, ": dimension ", d,
              " in the .npy header is too large");
    nonzero *= d == 0 ? 1 : d;
    count *= d;
    shape.push_back(static_cast<int64_t>(d));
  }
  CFX_CHECK(data_bytes == count * esize, path, ": data size does not match its shape");
  auto t = torch::empty(shape, f8 ? torch::kFloat64 : torch::kFloat32);
  // An empty array has no storage (data_ptr() is null): memcpy must not see it (UBSan).
  if (count > 0) std::memcpy(t.data_ptr(), b.data() + 10 + hlen, count * esize);
  return t.to(torch::kFloat32);
}

}  // namespace cfx
