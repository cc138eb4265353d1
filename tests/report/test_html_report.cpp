// report.html from hand-built result documents: self-contained, escaped, paged.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "cfx/core/fs.h"
#include "cfx/data/image_io.h"
#include "cfx/report/eval_plots.h"
#include "cfx/report/html_report.h"
#include "data/temp_dir.h"

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kEvil = "<img src=x onerror=alert(1)>";

size_t count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
  return n;
}

// A result document of `n` items whose class 0 is named kEvil, with its PNGs in `dir`.
json make_doc(const std::string& dir, int n) {
  fs::create_directories(fs::path(dir) / "images");
  // Every item points at the same three PNGs: the report's cost is per item, not per file.
  // Smooth images compress like real ones; noise would not.
  auto ramp = torch::linspace(0, 1, 28 * 28).reshape({1, 28, 28});
  cfx::write_png(dir + "/images/a.png", ramp);
  cfx::write_png(dir + "/images/b.png", 1 - ramp);
  cfx::write_png(dir + "/images/d.png", ramp.expand({3, 28, 28}).contiguous());
  json items = json::array();
  for (int i = 0; i < n; ++i) {
    json trace = {{"target_prob", json::array()}, {"loss", json::array()}};
    for (int s = 0; s < 100; ++s) {
      trace["target_prob"].push_back(s / 100.0);
      trace["loss"].push_back(10.0 - s * 0.05);
    }
    items.push_back({{"index", i},
                     {"input", "dir/<b>file</b>.png"},
                     {"original_class", 0},
                     {"original_class_name", kEvil},
                     {"original_prob", 0.9},
                     {"target_class", 1},
                     {"target_class_name", "Trouser"},
                     {"counterfactual_class", 1},
                     {"counterfactual_class_name", "Trouser"},
                     {"target_prob", 0.6},
                     {"valid", true},
                     {"l1", 0.01},
                     {"steps", 100},
                     {"original", "images/a.png"},
                     {"counterfactual", "images/b.png"},
                     {"diff", "images/d.png"},
                     {"trace", trace}});
  }
  return {
      {"schema", "cfx.result"},
      {"schema_version", 1},
      {"cfx_version", "0.1.0"},
      {"command", "explain"},
      {"model", {{"path", "m.pt"}, {"classes", {kEvil, "Trouser"}}}},
      {"config", {{"method", "pixel"}, {"options", {{"note", "</pre><script>x()</script>"}}}}},
      {"run", {{"command", "explain"}, {"invocation", "cfx explain --classes '" + kEvil + "'"}}},
      {"items", items},
      {"summary", {{"items", n}, {"validity", 1.0}}}};
}

}  // namespace

TEST(HtmlReport, EscapesTextAndAttributes) {
  EXPECT_EQ(cfx::html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

TEST(HtmlReport, Base64MatchesRfc4648Vectors) {
  EXPECT_EQ(cfx::base64_encode(""), "");
  EXPECT_EQ(cfx::base64_encode("f"), "Zg==");
  EXPECT_EQ(cfx::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(cfx::base64_encode("foo"), "Zm9v");
  EXPECT_EQ(cfx::base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(cfx::base64_encode(std::string("\xff\x00\x80", 3)), "/wCA");
}

TEST(HtmlReport, SelfContainedEscapedWithCurves) {
  cfx::test::TempDir tmp("report");
  json doc = make_doc(tmp.str(), 3);
  cfx::write_html_report(tmp.str(), doc);
  std::string html = cfx::read_file(tmp.str("report.html"));

  // Nothing is fetched: no external src/href, every image a PNG data URI.
  EXPECT_FALSE(std::regex_search(html, std::regex(R"((src|href)\s*=\s*["']?\s*(https?:)?//)")));
  EXPECT_EQ(html.find("http://"), std::string::npos);  // no URL at all, not even an xmlns
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("src=\"images/"), std::string::npos);
  EXPECT_EQ(count(html, "src=\"data:image/png;base64,iVBORw0KGgo"), 9u);  // 3 items x 3 images
  EXPECT_NE(html.find("Content-Security-Policy"), std::string::npos);

  // The malicious class name, file name, invocation and option appear only as text.
  EXPECT_EQ(html.find(kEvil), std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<b>file</b>"), std::string::npos);
  EXPECT_EQ(html.find("</pre><script>x()"), std::string::npos);
  EXPECT_EQ(count(html, "<script"), 1u);  // only the report's own script

  // Curves, summary and configuration.
  EXPECT_EQ(count(html, "<svg class=\"curve\""), 6u);  // target prob + loss per item
  EXPECT_NE(html.find("<polyline"), std::string::npos);
  EXPECT_NE(html.find("validity"), std::string::npos);
  EXPECT_NE(html.find("cfx explain --classes"), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp.str(".tmp.report.html")));
}

TEST(HtmlReport, SaliencyItemsWithoutCounterfactual) {
  cfx::test::TempDir tmp("report_sal");
  json doc = make_doc(tmp.str(), 1);
  json& it = doc["items"][0];
  for (auto k : {"counterfactual", "counterfactual_class", "counterfactual_class_name", "diff",
                 "trace", "valid"})
    it.erase(k);
  it["saliency"] = "images/d.png";
  it["infill"] = "images/b.png";
  it["saliency_map"] = "maps/0000.npy";
  it["deletion_curve"] = {0.9, 0.5, 0.2, 0.1};
  it["insertion_curve"] = {0.1, 0.4, 0.8, 0.9};
  it["stages"] = "images/gone.png";
  cfx::write_html_report(tmp.str(), doc);
  std::string html = cfx::read_file(tmp.str("report.html"));
  EXPECT_EQ(count(html, "data:image/png;base64,"), 3u);  // original, saliency, in-filled
  EXPECT_NE(html.find("href=\"./maps/0000.npy\""), std::string::npos);  // linked, not embedded
  EXPECT_NE(html.find("missing: images/gone.png"), std::string::npos);
  EXPECT_EQ(count(html, "<svg class=\"curve\""), 1u);  // deletion + insertion in one chart
  EXPECT_NE(html.find(">deletion</text>"), std::string::npos);
  EXPECT_NE(html.find(">insertion</text>"), std::string::npos);
}

TEST(HtmlReport, ThousandItemsArePagedAndBounded) {
  cfx::test::TempDir tmp("report_1000");
  json doc = make_doc(tmp.str(), 1000);
  cfx::write_html_report(tmp.str(), doc);
  std::string html = cfx::read_file(tmp.str("report.html"));
  const size_t pages = (1000 + cfx::kReportItemsPerPage - 1) / cfx::kReportItemsPerPage;
  EXPECT_NE(html.find("data-pages=\"" + std::to_string(pages) + "\""), std::string::npos);
  // Only the first page's images are decoded at load; the rest wait in data-src.
  EXPECT_EQ(count(html, " src=\"data:"), 3u * cfx::kReportItemsPerPage);
  EXPECT_EQ(count(html, " data-src=\"data:"), 3u * (1000 - cfx::kReportItemsPerPage));
  EXPECT_EQ(count(html, "<article class=\"item\" data-page=\"0\">"),
            size_t(cfx::kReportItemsPerPage));
  EXPECT_EQ(count(html, "\" hidden>"), 1000u - cfx::kReportItemsPerPage);
  // ~1.2 KB of images and ~3 KB of curves and text an item.
  EXPECT_LT(html.size(), 8u << 20) << html.size();
}

TEST(HtmlReport, EvalReportHasOneTabAndTableColumnPerMethod) {
  cfx::test::TempDir tmp("report_eval");
  std::vector<cfx::ReportRun> runs;
  json eval = {
      {"schema", "cfx.eval"}, {"invocation", "cfx eval"}, {"items", 2}, {"methods", json::array()}};
  for (const std::string& m : {std::string("pixel"), kEvil}) {
    std::string dir = tmp.str(m == "pixel" ? "pixel" : "evil");
    runs.push_back({m, dir, make_doc(dir, 2)});
    eval["methods"].push_back({{"method", m},
                               {"config", {{"method", m}}},
                               {"summary",
                                {{"validity", {{"mean", 0.75}, {"lo", 0.5}, {"hi", 1.0}, {"n", 2}}},
                                 {"l1", {{"mean", 0.02}, {"lo", 0.01}, {"hi", 0.03}, {"n", 2}}}}}});
  }
  cfx::write_eval_html_report(tmp.str(), eval, runs);
  std::string html = cfx::read_file(tmp.str("report.html"));
  // Rounded to the interval's precision: in the table and in each plot point's title.
  EXPECT_EQ(count(html, "0.75 [0.50, 1.00]"), 4u);
  // The comparison plot comes first: validity against L1, a point per method, names escaped.
  ASSERT_EQ(count(html, "<figure class=\"plot\">"), 1u);
  EXPECT_LT(html.find("<figure class=\"plot\">"), html.find("<th>metric</th>"));
  EXPECT_EQ(count(html, "<circle "), 2u);
  EXPECT_NE(html.find("l1 <span class=\"dir\">\u2193</span>"), std::string::npos);
  EXPECT_EQ(count(html, "role=\"tab\""), 2u);
  EXPECT_EQ(count(html, "<section class=\"run\""), 2u);
  EXPECT_EQ(count(html, "<section class=\"run\" data-pages=\"1\" data-page=\"0\" hidden>"), 1u);
  EXPECT_EQ(html.find(kEvil), std::string::npos);
  EXPECT_EQ(count(html, " src=\"data:"), 6u);  // only the first method's images are decoded
}

TEST(EvalPlots, IntervalsAreRoundedToTheirPrecision) {
  using cfx::interval_text;
  EXPECT_EQ(interval_text({{"mean", 0.44512}, {"lo", 0.37781}, {"hi", 0.51432}}),
            "0.445 [0.378, 0.514]");
  EXPECT_EQ(interval_text({{"mean", 1.0}, {"lo", 0.8389}, {"hi", 1.0}}), "1.000 [0.839, 1.000]");
  EXPECT_EQ(interval_text({{"mean", 1219.4}, {"lo", 1158.2}, {"hi", 1280.9}}), "1219 [1158, 1281]");
  EXPECT_EQ(interval_text({{"mean", 0.5}, {"lo", 0.5}, {"hi", 0.5}}), "0.500 [0.500, 0.500]");
  EXPECT_EQ(interval_text({{"mean", 5.6331}, {"lo", nullptr}, {"hi", nullptr}}), "5.633");
  EXPECT_EQ(cfx::metric_direction("oracle_validity"), 1);
  EXPECT_EQ(cfx::metric_direction("l1"), -1);
  EXPECT_EQ(cfx::metric_direction("target_prob"), 0);
}

TEST(EvalPlots, ScatterForCounterfactualsBarsForSaliency) {
  auto ci = [](double m, double lo, double hi) {
    return json{{"mean", m}, {"lo", lo}, {"hi", hi}, {"n", 10}};
  };
  json methods = json::array();
  methods.push_back({{"method", "pixel"},
                     {"kind", "counterfactual"},
                     {"summary",
                      {{"oracle_validity", ci(0.2, 0.1, 0.3)},
                       {"validity", ci(1, 0.7, 1)},
                       {"l1", ci(0.02, 0.01, 0.03)},
                       {"im1", ci(1.4, 1.3, 1.5)}}}});
  methods.push_back({{"method", "disc"},
                     {"kind", "counterfactual"},
                     {"summary",
                      {{"oracle_validity", ci(0.8, 0.7, 0.9)},
                       {"l1", ci(0.08, 0.07, 0.09)},
                       {"im1", ci(1.1, 1.0, 1.2)}}}});
  methods.push_back(
      {{"method", "fido"},
       {"kind", "saliency"},
       {"summary", {{"deletion_auc", ci(0.3, 0.2, 0.4)}, {"insertion_auc", ci(0.8, 0.7, 0.9)}}}});
  std::string html = cfx::eval_comparison_plots(methods);
  EXPECT_EQ(count(html, "<figure class=\"plot\">"), 3u);
  EXPECT_NE(html.find("oracle validity \u2191 against L1 \u2193"), std::string::npos);
  EXPECT_NE(html.find("IM1 \u2193 against L1 \u2193"), std::string::npos);
  EXPECT_EQ(count(html, "<circle "), 4u);                 // 2 methods x 2 scatter plots
  EXPECT_EQ(count(html, "<rect x="), 2u + 2u + 2u + 2u);  // 2 bars + legends (2 + 2 + 2)
  EXPECT_NE(html.find("disc: L1 \u2193 0.080 [0.070, 0.090]"), std::string::npos);
  EXPECT_EQ(cfx::eval_comparison_plots(json::array()), "");
  json other = json::array({{{"method", "x"}, {"summary", {{"steps", ci(1, 0, 2)}}}}});
  EXPECT_EQ(cfx::eval_comparison_plots(other), "");
}
