// Resume batch files (<out>/batches/BBBBBB-EEEEEE.pt, read back by --resume): an unreadable
// file must be noticed and its batch run again, never crash the run. Since the finding kept
// in fuzz/corpus/batch_file/regression-* (LibTorch 1.13's archive reader trusts a declared
// storage size over the record behind it), a batch file carries a checksum that is checked
// before LibTorch reads it: mutated inputs stop there (docs/reliability.md).
#include <filesystem>

#include "cfx/eval/batch_store.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = cfx::fuzz::scratch("-batches");
  static const cfx::BatchStore store(dir, {{"method", "fuzz"}}, /*resume=*/true);
  cfx::fuzz::put(dir + "/000000-000002.pt", data, size);
  cfx::fuzz::expect_clean([&] { store.load(0, 2); });
  return 0;
}
