// FidoOptions: validation, JSON round trip and the presets' defaults.
#include <cmath>

#include "cfx/core/error.h"
#include "cfx/methods/options.h"
#include "cfx/methods/saliency/fido.h"

using nlohmann::json;

namespace cfx {

void FidoOptions::validate() const {
  CFX_CHECK(objective == "ssr" || objective == "sdr", "invalid objective: '", objective,
            "' (use ssr or sdr)");
  CFX_CHECK(score == "log-odds" || score == "log-prob", "invalid score: '", score,
            "' (use log-odds or log-prob)");
  check_infiller_name(infill);
  infill_options.validate();
  CFX_CHECK(cell >= 1 && cell <= 256, "invalid cell: ", cell, " (use 1 to 256 pixels)");
  CFX_CHECK(samples >= 1 && samples <= 1024, "invalid samples: ", samples, " (use 1 to 1024)");
  CFX_CHECK(steps >= 1 && steps <= 1000000, "invalid steps: ", steps, " (use >= 1)");
  CFX_CHECK(lr > 0 && std::isfinite(lr), "invalid lr: ", lr, " (use > 0)");
  CFX_CHECK(lambda >= 0 && std::isfinite(lambda), "invalid lambda: ", lambda, " (use >= 0)");
  CFX_CHECK(lambda_ramp >= 0 && lambda_ramp <= 1, "invalid lambda_ramp: ", lambda_ramp,
            " (use a fraction in [0, 1])");
  CFX_CHECK(tv >= 0 && std::isfinite(tv), "invalid tv: ", tv, " (use >= 0)");
  CFX_CHECK(temperature > 0 && temperature <= 10, "invalid temperature: ", temperature,
            " (use (0, 10])");
  CFX_CHECK(init > 0 && init < 1, "invalid init: ", init, " (use a probability in (0, 1))");
  CFX_CHECK(tol >= 0 && tol < 1, "invalid tol: ", tol, " (use [0, 1))");
  CFX_CHECK(patience >= 1, "invalid patience: ", patience, " (use >= 1)");
}

json FidoOptions::to_json() const {
  json j = {{"objective", objective},
            {"score", score},
            {"infill", infill},
            {"deterministic", deterministic},
            {"cell", cell},
            {"samples", samples},
            {"steps", steps},
            {"lr", lr},
            {"lambda", lambda},
            {"lambda_ramp", lambda_ramp},
            {"tv", tv},
            {"temperature", temperature},
            {"init", init},
            {"tol", tol},
            {"patience", patience}};
  j.update(infill_options.to_json());
  return j;
}

FidoOptions FidoOptions::from_json(const json& j, const std::string& preset) {
  FidoOptions o;
  if (preset == "fido-sdr") {
    o.objective = "sdr";
  } else if (preset == "bbmp") {
    // Fong & Vedaldi's deletion game: a deterministic mask, blurred in, smoothed by TV.
    o.objective = "sdr";
    o.infill = "blur";
    o.deterministic = true;
    o.samples = 1;
    o.tv = 0.05;
    o.score = "log-prob";  // the deletion game lowers the class probability, not its odds
  } else if (preset != "fido") {
    fail("unknown FIDO preset '", preset, "'; known: fido, fido-sdr, bbmp");
  }
  check_option_keys(preset, j, o.to_json());
  read_option(j, "objective", o.objective);
  read_option(j, "score", o.score);
  read_option(j, "infill", o.infill);
  read_option(j, "deterministic", o.deterministic);
  read_option(j, "cell", o.cell);
  read_option(j, "samples", o.samples);
  read_option(j, "steps", o.steps);
  read_option(j, "lr", o.lr);
  read_option(j, "lambda", o.lambda);
  read_option(j, "lambda_ramp", o.lambda_ramp);
  read_option(j, "tv", o.tv);
  read_option(j, "temperature", o.temperature);
  read_option(j, "init", o.init);
  read_option(j, "tol", o.tol);
  read_option(j, "patience", o.patience);
  o.infill_options.read(j);
  for (const auto& item : j.items()) o.given.insert(item.key());
  o.validate();
  return o;
}

}  // namespace cfx
