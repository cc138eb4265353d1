// Method options and jobs: the CLI's --set key=value lines, options JSON (Python keywords,
// cfx.distributed's shards) for every registered method, and the run layer's job JSON.
#include <sstream>

#include "cfx/methods/options.h"
#include "cfx/methods/registry.h"
#include "cfx/run/eval_job.h"
#include "cfx/run/explain_job.h"
#include "cfx/run/global_job.h"
#include "cfx/run/train_job.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nlohmann::json options = nlohmann::json::parse(text, nullptr, false);
  if (options.is_discarded()) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    cfx::fuzz::expect_clean([&] { options = cfx::parse_option_assignments(lines); });
    if (options.is_discarded()) return 0;
  }
  for (const auto& m : cfx::method_registry())
    cfx::fuzz::expect_clean([&] { m.make(options)->config(); });
  cfx::fuzz::expect_clean([&] { cfx::ExplainJob::from_json(options).to_json(); });
  cfx::fuzz::expect_clean([&] { cfx::EvalJob::from_json(options).to_json(); });
  cfx::fuzz::expect_clean([&] { cfx::GlobalJob::from_json(options).to_json(); });
  cfx::fuzz::expect_clean([&] { cfx::TrainJob::from_json(options).to_json(); });
  return 0;
}
