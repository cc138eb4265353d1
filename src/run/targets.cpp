#include "cfx/run/targets.h"

#include "cfx/core/error.h"
#include "cfx/eval/metrics.h"

namespace cfx {
namespace {

// A fixed class for `spec`, or -1 for "auto" and "pred".
int64_t fixed_class(const std::string& spec, const Classifier& F, const std::string& where) {
  if (spec == "auto" || spec == "pred") return -1;
  auto t = parse_class(spec, F.class_names());
  CFX_CHECK(t.has_value(), "target '", spec, "'", where,
            " is not 'auto', 'pred', a class index or a class name of this model");
  CFX_CHECK(*t >= 0 && *t < F.num_classes(), "target ", *t, where,
            " is out of range: the model has ", F.num_classes(), " classes (0..",
            F.num_classes() - 1, ")");
  return *t;
}

}  // namespace

std::optional<int64_t> parse_class(const std::string& spec,
                                   const std::vector<std::string>& class_names) {
  for (size_t i = 0; i < class_names.size(); ++i)
    if (class_names[i] == spec) return static_cast<int64_t>(i);
  size_t pos = 0;
  int64_t t = -1;
  try {
    t = std::stoll(spec, &pos);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (pos != spec.size()) return std::nullopt;
  return t;
}

torch::Tensor resolve_targets(const std::vector<std::string>& specs, Classifier& F,
                              const torch::Tensor& images) {
  const int64_t n = images.size(0);
  CFX_CHECK(specs.size() == 1 || static_cast<int64_t>(specs.size()) == n, "got ", specs.size(),
            " targets for ", n, " items (give one for all, or one per item)");
  const bool per_item = specs.size() > 1;
  bool needs_auto = false, needs_pred = false;
  std::vector<int64_t> fixed;
  for (size_t i = 0; i < specs.size(); ++i) {
    fixed.push_back(
        fixed_class(specs[i], F, per_item ? " of item " + std::to_string(i) : std::string()));
    needs_auto |= specs[i] == "auto";
    needs_pred |= specs[i] == "pred";
  }
  torch::Tensor runner_up, predicted;
  if (needs_auto) runner_up = runner_up_classes(F, images).cpu();
  if (needs_pred) predicted = F.predict_proba(images).argmax(1).cpu();
  auto out = torch::empty({n}, torch::kLong);
  auto o = out.accessor<int64_t, 1>();
  for (int64_t i = 0; i < n; ++i) {
    const auto& s = specs[per_item ? i : 0];
    const int64_t f = fixed[per_item ? i : 0];
    o[i] = f >= 0 ? f : (s == "auto" ? runner_up[i] : predicted[i]).item<int64_t>();
  }
  return out;
}

}  // namespace cfx
