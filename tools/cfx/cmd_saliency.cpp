// `cfx saliency`: which parts of the image the decision rests on (FIDO, BBMP, gradient,
// occlusion). Same inputs and outputs as `cfx explain`, plus saliency maps (.npy and PNG).
#include "commands.h"
#include "explain_run.h"

namespace cfx::cli {

void add_saliency_command(CLI::App& app) {
  auto* sub = app.add_subcommand("saliency", "saliency maps: which regions the decision rests on");
  auto f = std::make_shared<ExplainFlags>();
  f->method = "fido";
  f->target = "pred";
  f->out = "out/saliency";
  add_explain_flags(sub, *f);
  sub->add_option("--target,-t", f->target,
                  "class explained: pred (the model's decision), an index, or a class name")
      ->excludes("--targets");
  auto objective = std::make_shared<std::string>(), infill = std::make_shared<std::string>(),
       inpainter = std::make_shared<std::string>();
  sub->add_option("--objective", *objective,
                  "fido/bbmp: ssr (smallest sufficient region) or sdr (smallest destroying "
                  "region); default: the method's");
  sub->add_option("--infill", *infill,
                  "fido/bbmp/occlusion in-filler: mean, blur, random, local, inpainter; "
                  "default: the method's");
  sub->add_option("--inpainter", *inpainter,
                  "inpainter checkpoint (default: <dataset>-inpainter.pt beside the model)");
  on_selected(sub, [f, objective, infill, inpainter] {
    if (!objective->empty()) f->extra_options["objective"] = *objective;
    if (!infill->empty()) f->extra_options["infill"] = *infill;
    if (!inpainter->empty()) f->extra_options["inpainter"] = *inpainter;
    return run_explanation(*f, "saliency", "saliency");
  });
}

}  // namespace cfx::cli
