#include "cfx/core/device.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "cfx/core/error.h"

namespace cfx {

torch::Device parse_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name.rfind("cuda", 0) == 0) {
    CFX_CHECK(torch::cuda::is_available(), "device ", name,
              ": this cfx was built with a LibTorch without CUDA, or no GPU is visible; "
              "use device cpu");
    int index = 0;
    if (name.size() > 4) {
      CFX_CHECK(name[4] == ':' && name.size() > 5 && name.size() < 10 &&
                    name.find_first_not_of("0123456789", 5) == std::string::npos,
                "unknown device '", name, "': use cpu, cuda or cuda:<index>");
      index = std::stoi(name.substr(5));
      CFX_CHECK(index < static_cast<int>(torch::cuda::device_count()), "device ", name, ": only ",
                torch::cuda::device_count(), " GPU(s) visible");
    }
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  fail("unknown device '", name, "': use cpu, cuda or cuda:<index>");
}

void keep_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest allowed threshold
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_TOP_PAD, 64 << 20);
#endif
}

}  // namespace cfx
