// `cfx train <kind>`: one subcommand per trainer of the library (run/train_job.h), its flags
// made from the options the trainer declares: --key for each (with '_' written '-'), a bool
// as --key / --no-key. Only the flags given are passed; the library fills in the defaults.
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>

#include "cfx/core/error.h"
#include "cfx/models/checkpoint.h"
#include "cfx/run/train_job.h"
#include "commands.h"
#include "common.h"

namespace cfx::cli {

namespace {

std::string flag_of(const std::string& key) {
  std::string f = key;
  for (auto& c : f)
    if (c == '_') c = '-';
  return "--" + f;
}

// A flag's text as the JSON value of the option's type; a bad value names the flag.
nlohmann::json parse_value(const TrainOption& o, const std::string& text) {
  const auto& d = o.default_value;
  if (d.is_string()) return text;
  char* end = nullptr;
  errno = 0;
  if (d.is_number_unsigned()) {
    unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    CFX_CHECK(!text.empty() && text[0] != '-' && *end == '\0' && errno == 0, "invalid ",
              flag_of(o.key), " '", text, "' (a non-negative integer)");
    return static_cast<uint64_t>(v);
  }
  if (d.is_number_integer()) {
    long long v = std::strtoll(text.c_str(), &end, 10);
    CFX_CHECK(!text.empty() && *end == '\0' && errno == 0, "invalid ", flag_of(o.key), " '", text,
              "' (an integer)");
    return static_cast<int64_t>(v);
  }
  double v = std::strtod(text.c_str(), &end);
  CFX_CHECK(!text.empty() && *end == '\0' && std::isfinite(v), "invalid ", flag_of(o.key), " '",
            text, "' (a number)");
  return v;
}

struct TrainFlags {
  std::map<std::string, std::string> text;  // option key -> the flag's value
  std::map<std::string, bool> flags;        // bool option key -> its flag
  std::map<std::string, CLI::Option*> given;
  std::string out;
};

void add_trainer(CLI::App* train, const Trainer& t) {
  auto* sub = train->add_subcommand(t.kind, t.description);
  auto f = std::make_shared<TrainFlags>();
  for (const auto& o : t.options) {
    const std::string flag = flag_of(o.key);
    if (o.default_value.is_boolean()) {
      f->flags[o.key] = o.default_value.get<bool>();
      f->given[o.key] = sub->add_flag(flag + ",!--no-" + flag.substr(2), f->flags[o.key], o.help);
    } else {
      const auto& d = o.default_value;
      auto* opt = sub->add_option(flag, f->text[o.key], o.help);
      opt->type_name(d.is_string() ? "TEXT" : d.is_number_integer() ? "INT" : "FLOAT");
      if (!(d.is_string() && d.get<std::string>().empty()))
        opt->default_str(d.is_string() ? d.get<std::string>() : d.dump());
      f->given[o.key] = opt;
    }
  }
  sub->add_option("--out,-o", f->out, "weights file to write (sidecar NAME.json beside it)")
      ->required();
  const std::string kind = t.kind;
  on_selected(sub, [f, kind] {
    const auto& t = trainer(kind);
    TrainJob job;
    job.kind = kind;
    job.out = f->out;
    job.command = invocation();
    for (const auto& o : t.options) {
      if (f->given.at(o.key)->count() == 0) continue;
      job.options[o.key] = o.default_value.is_boolean() ? nlohmann::json(f->flags.at(o.key))
                                                        : parse_value(o, f->text.at(o.key));
    }
    auto outcome = run_train(job);
    std::cout << outcome.summary << "wrote " << outcome.path << " and "
              << sidecar_path(outcome.path) << "\n";
    return 0;
  });
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto* train = app.add_subcommand("train", "train the models cfx needs");
  train->require_subcommand(1);
  for (const auto& t : trainers()) add_trainer(train, t);
}

}  // namespace cfx::cli
