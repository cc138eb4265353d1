// report.html: one self-contained page a person opens from disk to look at a run.
//
// Every image is embedded as a data: URI, the style and the script are inlined and a
// Content-Security-Policy forbids any fetch, so the page works offline and can be mailed.
// Items are paged (kReportItemsPerPage a page); images of pages not shown keep their data
// in data-src and are not decoded until their page is opened, so 1,000 items stay usable.
// docs/outputs.md describes the page.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cfx {

constexpr int kReportItemsPerPage = 50;

/// Writes `out_dir`/report.html (atomically) for one result document in the format
/// write_explain_outputs returns (schema cfx.result; any command: explain, saliency,
/// global). Image paths in the items are read relative to `out_dir`. Item keys it draws
/// when present: original, counterfactual, diff, saliency, infill (and any other *.png),
/// stages, trace, deletion_curve, insertion_curve; *.npy paths are linked, not embedded.
/// Throws cfx::Error if the folder is not writable.
void write_html_report(const std::string& out_dir, const nlohmann::json& doc);

/// One method's results in an eval report: its run folder and its result document.
struct ReportRun {
  std::string name;
  std::string dir;
  nlohmann::json doc;
};

/// Writes `out_dir`/report.html for a `cfx eval` run: the eval document's settings, one
/// metric table over all methods ("mean [lo, hi]"), and a tab per method with its items.
void write_eval_html_report(const std::string& out_dir, const nlohmann::json& eval_doc,
                            const std::vector<ReportRun>& runs);

/// `s` escaped for HTML text and quoted attribute values (& < > " ').
std::string html_escape(const std::string& s);

/// Standard base64 (RFC 4648, with padding).
std::string base64_encode(const std::string& bytes);

}  // namespace cfx
