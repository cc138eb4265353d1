// Inline-SVG comparison plots of cfx eval's summaries. Hand-written SVG, not an image: the
// numbers stay selectable, the page stays small, and nothing runs in the browser to draw them.
#include "cfx/report/eval_plots.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <tuple>
#include <vector>

#include "cfx/report/html_report.h"

using nlohmann::json;

namespace cfx {

int metric_direction(const std::string& metric) {
  static const std::map<std::string, int> kDirection = {{"validity", 1},
                                                        {"oracle_validity", 1},
                                                        {"cout", 1},
                                                        {"prior_psnr", 1},
                                                        {"insertion_auc", 1},
                                                        {"pointing_game", 1},
                                                        {"iou", 1},
                                                        {"box_iou", 1},
                                                        {"l0", -1},
                                                        {"l1", -1},
                                                        {"l2", -1},
                                                        {"im1", -1},
                                                        {"im2", -1},
                                                        {"fid", -1},
                                                        {"mnac", -1},
                                                        {"mnac_factors", -1},
                                                        {"seconds", -1},
                                                        {"peak_mb", -1},
                                                        {"peak_mb_per_item", -1},
                                                        {"deletion_auc", -1},
                                                        {"loc_error", -1},
                                                        {"saliency_metric", -1}};
  auto it = kDirection.find(metric);
  return it == kDirection.end() ? 0 : it->second;
}

std::string direction_arrow(const std::string& metric) {
  int d = metric_direction(metric);
  return d > 0 ? "\u2191" : d < 0 ? "\u2193" : "";
}

namespace {

// %.1f of v: SVG coordinates.
std::string f1(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string sig(double v, int digits) {
  if (!std::isfinite(v)) return std::isnan(v) ? "NaN" : (v > 0 ? "inf" : "-inf");
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return sig(v, 4);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  // "-0.000" is zero.
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

bool finite_number(const json& v) { return v.is_number() && std::isfinite(v.get<double>()); }

// A metric of one method: its mean and, when known, its interval.
struct Stat {
  bool ok = false, bounded = false;
  double mean = 0, lo = 0, hi = 0;
};

Stat stat_of(const json& method, const std::string& metric) {
  Stat s;
  if (!method.contains("summary") || !method["summary"].contains(metric)) return s;
  const auto& v = method["summary"][metric];
  if (!v.is_object() || !v.contains("mean") || !finite_number(v["mean"])) return s;
  s.ok = true;
  s.mean = s.lo = s.hi = v["mean"].get<double>();
  if (v.contains("lo") && v.contains("hi") && finite_number(v["lo"]) && finite_number(v["hi"])) {
    s.bounded = true;
    s.lo = v["lo"].get<double>(), s.hi = v["hi"].get<double>();
  }
  return s;
}

const char* const kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

std::string label_of(const std::string& metric) {
  static const std::map<std::string, std::string> kLabel = {{"oracle_validity", "oracle validity"},
                                                            {"validity", "validity"},
                                                            {"l1", "L1"},
                                                            {"im1", "IM1"},
                                                            {"fid", "FID"},
                                                            {"deletion_auc", "deletion AUC"},
                                                            {"insertion_auc", "insertion AUC"}};
  auto it = kLabel.find(metric);
  std::string name = it == kLabel.end() ? metric : it->second;
  std::string arrow = direction_arrow(metric);
  return arrow.empty() ? name : name + " " + arrow;
}

bool is_rate_or_unit(const std::string& m) {
  return m == "validity" || m == "oracle_validity" || m == "deletion_auc" || m == "insertion_auc";
}

// A "nice" tick step (1, 2 or 5 × 10^k) for about 4 steps over `span`.
double nice_step(double span) {
  const double raw = span / 4, mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

// [lo, hi] of an axis: [0, 1] for rates and AUCs, else from 0 (non-negative data) up to the
// first nice tick at or above the largest bound, so the 4 ticks fall on round numbers.
std::pair<double, double> axis_range(const std::string& metric, double lo, double hi) {
  if (is_rate_or_unit(metric)) return {std::min(0.0, lo), std::max(1.0, hi)};
  if (lo >= 0) lo = 0;
  if (!(hi > lo)) hi = lo + 1;
  const double step = nice_step(hi - lo);
  lo = std::floor(lo / step) * step;
  return {lo, lo + 4 * nice_step(std::ceil(hi / step) * step - lo)};
}

// An SVG plot area with linear axes.
struct Plot {
  std::string svg;
  double W = 460, H = 300, left = 56, right = 130, top = 14, bottom = 44;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  double X(double v) const { return left + (v - x0) / (x1 - x0) * (W - left - right); }
  double Y(double v) const { return top + (y1 - v) / (y1 - y0) * (H - top - bottom); }
  void line(double xa, double ya, double xb, double yb, const std::string& attrs) {
    svg += "<line x1=\"" + f1(xa) + "\" y1=\"" + f1(ya) + "\" x2=\"" + f1(xb) + "\" y2=\"" +
           f1(yb) + "\" " + attrs + "/>";
  }
  void text(double x, double y, const std::string& anchor, const std::string& s) {
    svg += "<text x=\"" + f1(x) + "\" y=\"" + f1(y) + "\" text-anchor=\"" + anchor + "\">" +
           html_escape(s) + "</text>";
  }
  void legend(size_t i, const std::string& colour, const std::string& name) {
    svg += "<rect x=\"" + f1(W - right + 10) + "\" y=\"" + f1(top + 14.0 * i) +
           "\" width=\"8\" height=\"8\" fill=\"" + colour + "\"/>";
    text(W - right + 22, top + 14.0 * i + 8, "start", name);
  }
  // Axes, 5 ticks each (x ticks only when `x_ticks`), grid lines and the axis titles.
  void axes(const std::string& xtitle, const std::string& ytitle, bool x_ticks = true) {
    line(left, H - bottom, W - right, H - bottom, "stroke=\"#999\"");
    line(left, top, left, H - bottom, "stroke=\"#999\"");
    for (int k = 0; k <= 4; ++k) {
      double yv = y0 + (y1 - y0) * k / 4;
      line(left, Y(yv), W - right, Y(yv), "stroke=\"#eee\"");
      text(left - 6, Y(yv) + 3, "end", sig(yv, 3));
      if (!x_ticks) continue;
      double xv = x0 + (x1 - x0) * k / 4;
      line(X(xv), H - bottom, X(xv), H - bottom + 4, "stroke=\"#999\"");
      text(X(xv), H - bottom + 14, "middle", sig(xv, 3));
    }
    if (!xtitle.empty()) text((left + W - right) / 2, H - 8, "middle", xtitle);
    svg += "<text transform=\"translate(14," + f1((top + H - bottom) / 2) +
           ") rotate(-90)\" text-anchor=\"middle\">" + html_escape(ytitle) + "</text>";
  }
  std::string figure(const std::string& caption) const {
    return "<figure class=\"plot\"><svg width=\"" + f1(W) + "\" height=\"" + f1(H) +
           "\" viewBox=\"0 0 " + f1(W) + " " + f1(H) + "\" role=\"img\"><title>" +
           html_escape(caption) + "</title>" + svg + "</svg><figcaption>" + html_escape(caption) +
           "</figcaption></figure>\n";
  }
};

std::string stat_text(const Stat& s) {
  json ci = {{"mean", s.mean}};
  if (s.bounded) ci["lo"] = s.lo, ci["hi"] = s.hi;
  return interval_text(ci);
}

// One point per method at (x, y) with interval bars on both axes.
std::string scatter(const json& methods, const std::string& xm, const std::string& ym) {
  std::vector<std::tuple<std::string, Stat, Stat>> pts;
  double xlo = 1e300, xhi = -1e300, ylo = 1e300, yhi = -1e300;
  for (const auto& m : methods) {
    auto sx = stat_of(m, xm), sy = stat_of(m, ym);
    if (!sx.ok || !sy.ok) continue;
    pts.emplace_back(m.value("method", std::string("?")), sx, sy);
    xlo = std::min(xlo, sx.lo), xhi = std::max(xhi, sx.hi);
    ylo = std::min(ylo, sy.lo), yhi = std::max(yhi, sy.hi);
  }
  if (pts.empty()) return "";
  Plot p;
  std::tie(p.x0, p.x1) = axis_range(xm, xlo, xhi);
  std::tie(p.y0, p.y1) = axis_range(ym, ylo, yhi);
  p.axes(label_of(xm), label_of(ym));
  for (size_t i = 0; i < pts.size(); ++i) {
    const auto& [name, sx, sy] = pts[i];
    const std::string colour = kColours[i % 8];
    const std::string stroke = "stroke=\"" + colour + "\" stroke-width=\"1.5\"";
    if (sx.bounded) p.line(p.X(sx.lo), p.Y(sy.mean), p.X(sx.hi), p.Y(sy.mean), stroke);
    if (sy.bounded) p.line(p.X(sx.mean), p.Y(sy.lo), p.X(sx.mean), p.Y(sy.hi), stroke);
    p.svg += "<circle cx=\"" + f1(p.X(sx.mean)) + "\" cy=\"" + f1(p.Y(sy.mean)) +
             "\" r=\"4\" fill=\"" + colour + "\"><title>" +
             html_escape(name + ": " + label_of(xm) + " " + stat_text(sx) + ", " + label_of(ym) +
                         " " + stat_text(sy)) +
             "</title></circle>";
    p.legend(i, colour, name);
  }
  return p.figure(label_of(ym) + " against " + label_of(xm) + " per method, 95% intervals");
}

// Grouped bars: one group per method, one bar per metric, interval whiskers.
std::string bars(const json& methods, const std::vector<std::string>& metrics) {
  std::vector<std::pair<std::string, std::vector<Stat>>> groups;
  for (const auto& m : methods) {
    std::vector<Stat> s;
    bool any = false;
    for (const auto& k : metrics) s.push_back(stat_of(m, k)), any = any || s.back().ok;
    if (any) groups.emplace_back(m.value("method", std::string("?")), s);
  }
  if (groups.empty()) return "";
  Plot p;
  p.W = std::max(300.0, 90.0 * groups.size() + p.left + p.right);
  p.axes("", "AUC", false);
  const double slot = (p.W - p.left - p.right) / groups.size();
  const double bar = std::min(24.0, 0.8 * slot / metrics.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& [name, stats] = groups[g];
    const double start = p.left + slot * g + (slot - bar * metrics.size()) / 2;
    for (size_t k = 0; k < metrics.size(); ++k) {
      const auto& s = stats[k];
      if (!s.ok) continue;
      const std::string colour = kColours[k % 8];
      double x = start + bar * k, y = p.Y(std::max(s.mean, p.y0));
      p.svg +=
          "<rect x=\"" + f1(x) + "\" y=\"" + f1(y) + "\" width=\"" + f1(bar - 2) + "\" height=\"" +
          f1(p.Y(p.y0) - y) + "\" fill=\"" + colour + "\" fill-opacity=\"0.8\"><title>" +
          html_escape(name + ": " + label_of(metrics[k]) + " " + stat_text(s)) + "</title></rect>";
      if (s.bounded)
        p.line(x + bar / 2 - 1, p.Y(s.lo), x + bar / 2 - 1, p.Y(s.hi), "stroke=\"#333\"");
    }
    p.text(p.left + slot * (g + 0.5), p.H - p.bottom + 14, "middle", name);
  }
  for (size_t k = 0; k < metrics.size(); ++k) p.legend(k, kColours[k % 8], label_of(metrics[k]));
  return p.figure("deletion AUC \u2193 and insertion AUC \u2191 per method, 95% intervals");
}

}  // namespace

std::string interval_text(const json& ci) {
  if (!ci.is_object() || !ci.contains("mean") || !finite_number(ci["mean"]))
    return ci.is_object() && ci.contains("mean") && ci["mean"].is_number()
               ? sig(ci["mean"].get<double>(), 4)
               : "–";
  const double mean = ci["mean"].get<double>();
  if (!ci.contains("lo") || !ci.contains("hi") || !finite_number(ci["lo"]) ||
      !finite_number(ci["hi"]))
    return sig(mean, 4);
  const double lo = ci["lo"].get<double>(), hi = ci["hi"].get<double>();
  const double half = 0.5 * (hi - lo);
  // Two significant digits of the half-width set the decimal place; a zero-width interval
  // (every item equal) keeps 3 decimals.
  int decimals = half > 0 ? 1 - static_cast<int>(std::floor(std::log10(half))) : 3;
  decimals = std::clamp(decimals, 0, 8);
  return fixed(mean, decimals) + " [" + fixed(lo, decimals) + ", " + fixed(hi, decimals) + "]";
}

std::string eval_comparison_plots(const json& methods) {
  if (!methods.is_array()) return "";
  json counterfactual = json::array(), saliency = json::array();
  for (const auto& m : methods)
    (m.value("kind", std::string()) == "saliency" ? saliency : counterfactual).push_back(m);
  auto has = [](const json& ms, const std::string& k) {
    for (const auto& m : ms)
      if (stat_of(m, k).ok) return true;
    return false;
  };
  std::string html;
  if (!counterfactual.empty()) {
    html += scatter(counterfactual, "l1",
                    has(counterfactual, "oracle_validity") ? "oracle_validity" : "validity");
    if (has(counterfactual, "im1"))
      html += scatter(counterfactual, "l1", "im1");
    else if (has(counterfactual, "fid"))
      html += scatter(counterfactual, "l1", "fid");
  }
  if (!saliency.empty()) html += bars(saliency, {"deletion_auc", "insertion_auc"});
  return html;
}

}  // namespace cfx
