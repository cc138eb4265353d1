#include "cfx/eval/batch_store.h"

#include <torch/serialize.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <sstream>

#include "cfx/core/error.h"
#include "cfx/core/fs.h"
#include "cfx/core/log.h"
#include "cfx/core/surface.h"

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

// A tensor read from a batch file, checked before use: its sizes, strides and offset must stay
// inside the storage size the archive declares. Throws cfx::Error naming `key`; returns it
// contiguous. (That the declared size is the size of the data behind it is what the
// checksum, below, stands for: LibTorch 1.13's reader does not compare the two.)
torch::Tensor checked(const torch::Tensor& t, const std::string& key) {
  if (!t.defined()) return t;
  CFX_CHECK(t.layout() == torch::kStrided && t.device().is_cpu() && t.has_storage(), key,
            ": not a dense CPU tensor");
  if (t.numel() == 0) return t.contiguous();
  CFX_CHECK(t.storage_offset() >= 0, key, ": negative storage offset");
  // The last element's index, in elements; every step is checked against overflow.
  const int64_t limit = std::numeric_limits<int64_t>::max() / 16;
  int64_t last = t.storage_offset();
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t size = t.size(d), stride = t.stride(d);
    CFX_CHECK(stride >= 0 && stride <= limit && size - 1 <= limit / std::max<int64_t>(stride, 1),
              key, ": strides out of range");
    last += (size - 1) * stride;
    CFX_CHECK(last <= limit, key, ": strides out of range");
  }
  const auto needed = static_cast<uint64_t>(last + 1) * t.element_size();
  CFX_CHECK(needed <= t.storage().nbytes(), key, ": its storage holds ", t.storage().nbytes(),
            " bytes but its shape reaches ", needed);
  return t.contiguous();
}

std::vector<std::vector<float>> read_traces(torch::serialize::InputArchive& a,
                                            const std::string& key) {
  torch::Tensor flat, lengths;
  a.read(key + "_values", flat);
  a.read(key + "_lengths", lengths);
  flat = checked(flat, key + "_values").to(torch::kFloat32).reshape({-1});
  lengths = checked(lengths, key + "_lengths").to(torch::kLong).reshape({-1});
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

constexpr uint64_t kFnvOffsetBasis = 14695981039346656037ull;

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

// A hash as the 16 hex digits files and configs show it.
std::string hex16(uint64_t h) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

// A batch file is "CFXBATCH1 <16 hex digits>\n" and then LibTorch's archive, the digits its
// FNV-1a 64 hash. LibTorch 1.13's archive reader trusts a storage size the archive declares
// over the size of the record behind it, so a corrupted file could make it read past a
// buffer (fuzz_batch_file found one: trace values declared 240 bytes on a 16-byte record).
// The hash is checked before LibTorch sees a byte: a torn, truncated or bit-flipped file is
// refused and its batch run again. (It is a checksum against corruption, not a signature: a
// file crafted with a matching hash would still reach LibTorch's reader; batch folders are
// cfx's own working files.)
constexpr char kBatchMagic[] = "CFXBATCH1 ";

std::string hash_hex(const std::string& bytes) {
  return hex16(fnv1a(kFnvOffsetBasis, bytes.data(), bytes.size()));
}

std::string framed(const std::string& archive) {
  return kBatchMagic + hash_hex(archive) + "\n" + archive;
}

}  // namespace

std::string batch_file_archive(const std::string& file) {
  const size_t magic = sizeof kBatchMagic - 1, header = magic + 17;
  CFX_CHECK(
      file.size() >= header && file.compare(0, magic, kBatchMagic) == 0 && file[header - 1] == '\n',
      "not a cfx batch file (no CFXBATCH1 header)");
  std::string archive = file.substr(header);
  CFX_CHECK(file.compare(magic, 16, hash_hex(archive)) == 0,
            "its checksum does not match its contents (a torn or corrupted file)");
  return archive;
}

BatchStore::BatchStore(std::string dir, json config, bool resume) : dir_(std::move(dir)) {
  ensure_writable_dir(dir_);
  const std::string cfg_path = (fs::path(dir_) / kConfigFile).string();
  if (resume && is_file(cfg_path)) {
    auto old = json::parse(read_file(cfg_path), nullptr, false);
    CFX_CHECK(!old.is_discarded(), "cannot resume: ", cfg_path, " is not valid JSON; drop ",
              option("resume"), " to start over");
    CFX_CHECK(old == config, "cannot resume: ", dir_,
              " holds batches of a run with other settings (", first_difference(old, config),
              "); drop ", option("resume"), " to start over, or use another ", option("out"));
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
    std::istringstream in(batch_file_archive(read_file(p)));
    torch::serialize::InputArchive a;
    a.load_from(in);
    StoredBatch b;
    Result& r = b.result;
    for (auto [key, t] : r.item_tensors())
      if (a.try_read(key, *t)) *t = checked(*t, key);
    torch::Tensor names;
    if (a.try_read("edits_names", names))
      r.edits.names = names_from_tensor(checked(names, "edits_names"));
    if (a.try_read("shift_names", names))
      r.attribute_shift.names = names_from_tensor(checked(names, "shift_names"));
    r.target_prob_trace = read_traces(a, "target_prob_trace");
    r.loss_trace = read_traces(a, "loss_trace");
    torch::Tensor scalars;
    a.read("scalars", scalars);
    scalars = checked(scalars, "scalars").to(torch::kDouble).reshape({-1});
    CFX_CHECK(scalars.numel() == 2, "scalars: ", scalars.numel(), " values, not 2");
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
  write_atomic(path(begin, end), framed(out.str()));
}

std::string run_fingerprint(Classifier& F, const torch::Tensor& images,
                            const torch::Tensor& targets) {
  uint64_t h = kFnvOffsetBasis;
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
  return hex16(h);
}

}  // namespace cfx
