#include "cfx/eval/batch_store.h"

#include <torch/serialize.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/log.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace cfx {

namespace {

constexpr const char* kConfigFile = "config.json";

// Attribute names as one byte tensor, one name per line (names hold no newline).
torch::Tensor names_to_tensor(const std::vector<std::string>& names) {
  std::string joined;
  for (const auto& n : names) joined += n + "\n";
  std::vector<int64_t> bytes(joined.begin(), joined.end());
  return torch::tensor(bytes, torch::kLong).to(torch::kUInt8);
}

std::vector<std::string> names_from_tensor(const torch::Tensor& t) {
  std::vector<std::string> out;
  std::string cur;
  auto bytes = t.to(torch::kLong).contiguous();
  for (int64_t i = 0; i < bytes.numel(); ++i) {
    char c = static_cast<char>(bytes[i].item<int64_t>());
    if (c == '\n') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

// Per-item traces as one flat float tensor plus one length per item.
void write_traces(torch::serialize::OutputArchive& a, const std::string& key,
                  const std::vector<std::vector<float>>& traces) {
  std::vector<float> flat;
  std::vector<int64_t> lengths;
  for (const auto& t : traces) {
    flat.insert(flat.end(), t.begin(), t.end());
    lengths.push_back(static_cast<int64_t>(t.size()));
  }
  a.write(key + "_values", torch::tensor(flat, torch::kFloat32));
  a.write(key + "_lengths", torch::tensor(lengths, torch::kLong));
}

std::vector<std::vector<float>> read_traces(torch::serialize::InputArchive& a,
                                            const std::string& key) {
  torch::Tensor flat, lengths;
  a.read(key + "_values", flat);
  a.read(key + "_lengths", lengths);
  std::vector<std::vector<float>> out;
  const float* p = flat.data_ptr<float>();
  int64_t at = 0;
  for (int64_t i = 0; i < lengths.numel(); ++i) {
    int64_t len = lengths[i].item<int64_t>();
    CFX_CHECK(len >= 0 && at + len <= flat.numel(), "inconsistent trace lengths");
    out.emplace_back(p + at, p + at + len);
    at += len;
  }
  return out;
}

// The first place where two configs differ, as "path: old vs new".
std::string first_difference(const json& old_config, const json& new_config) {
  auto patch = json::diff(old_config, new_config);
  if (patch.empty()) return "";
  std::string where = patch[0].value("path", "");
  json::json_pointer ptr(where);
  auto show = [&](const json& j) { return j.contains(ptr) ? j.at(ptr).dump() : "(none)"; };
  return where + ": " + show(old_config) + " before, " + show(new_config) + " now";
}

uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t hash_tensor(uint64_t h, const torch::Tensor& t) {
  if (!t.defined()) return fnv1a(h, "undef", 5);
  auto c = t.detach().cpu().contiguous();
  auto sizes = c.sizes().vec();
  h = fnv1a(h, sizes.data(), sizes.size() * sizeof(int64_t));
  return fnv1a(h, c.data_ptr(), c.numel() * c.element_size());
}

}  // namespace

BatchStore::BatchStore(std::string dir, json config, bool resume) : dir_(std::move(dir)) {
  ensure_writable_dir(dir_);
  const std::string cfg_path = (fs::path(dir_) / kConfigFile).string();
  if (resume && is_file(cfg_path)) {
    auto old = json::parse(read_file(cfg_path), nullptr, false);
    CFX_CHECK(!old.is_discarded(), "cannot resume: ", cfg_path,
              " is not valid JSON; drop --resume to start over");
    CFX_CHECK(old == config, "cannot resume: ", dir_,
              " holds batches of a run with other settings (", first_difference(old, config),
              "); drop --resume to start over, or use another --out");
    return;
  }
  // A fresh run: batches of an earlier run must not be mixed into this one.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec))
    if (entry.path().extension() == ".pt") fs::remove(entry.path(), ec);
  write_atomic(cfg_path, config.dump(2) + "\n");
}

std::string BatchStore::path(int64_t begin, int64_t end) const {
  char name[48];
  std::snprintf(name, sizeof name, "%06lld-%06lld.pt", static_cast<long long>(begin),
                static_cast<long long>(end));
  return (fs::path(dir_) / name).string();
}

std::optional<StoredBatch> BatchStore::load(int64_t begin, int64_t end) const {
  const std::string p = path(begin, end);
  if (!is_file(p)) return std::nullopt;
  try {
    std::istringstream in(read_file(p));
    torch::serialize::InputArchive a;
    a.load_from(in);
    StoredBatch b;
    Result& r = b.result;
    for (auto [key, t] : r.item_tensors()) a.try_read(key, *t);
    torch::Tensor names;
    if (a.try_read("edits_names", names)) r.edits.names = names_from_tensor(names);
    if (a.try_read("shift_names", names)) r.attribute_shift.names = names_from_tensor(names);
    r.target_prob_trace = read_traces(a, "target_prob_trace");
    r.loss_trace = read_traces(a, "loss_trace");
    torch::Tensor scalars;
    a.read("scalars", scalars);
    r.seconds = scalars[0].item<double>();
    b.peak_mb = scalars[1].item<double>();
    CFX_CHECK(r.steps.defined() && r.steps.size(0) == end - begin, "wrong item count");
    return b;
  } catch (const std::exception& e) {
    notice("batch file " + p + " is unreadable (" + e.what() + "); running that batch again");
    return std::nullopt;
  }
}

void BatchStore::save(int64_t begin, int64_t end, const StoredBatch& b) const {
  torch::serialize::OutputArchive a;
  const Result& r = b.result;
  for (auto [key, t] : r.item_tensors())
    if (t->defined()) a.write(key, t->detach().cpu());
  if (r.edits.defined()) a.write("edits_names", names_to_tensor(r.edits.names));
  if (r.attribute_shift.defined()) a.write("shift_names", names_to_tensor(r.attribute_shift.names));
  write_traces(a, "target_prob_trace", r.target_prob_trace);
  write_traces(a, "loss_trace", r.loss_trace);
  a.write("scalars", torch::tensor({r.seconds, b.peak_mb}, torch::kDouble));
  std::ostringstream out;
  a.save_to(out);
  write_atomic(path(begin, end), out.str());
}

std::string run_fingerprint(Classifier& F, const torch::Tensor& images,
                            const torch::Tensor& targets) {
  uint64_t h = 14695981039346656037ull;
  const auto& info = F.info();
  json meta = {{"arch", info.arch},
               {"input_shape", info.input_shape},
               {"classes", info.class_names},
               {"mean", info.mean},
               {"std", info.std}};
  std::string m = meta.dump();
  h = fnv1a(h, m.data(), m.size());
  for (const auto& w : F.weights()) h = hash_tensor(h, w);
  h = hash_tensor(h, images);
  h = hash_tensor(h, targets.to(torch::kLong));
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

}  // namespace cfx
