#include "cfx/report/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <set>

#include "cfx/core/fs.h"
#include "cfx/report/eval_plots.h"

using nlohmann::json;
namespace fs = std::filesystem;

namespace cfx {

namespace {

// Curves longer than this are thinned for drawing; the full arrays stay in result.json.
constexpr size_t kMaxCurvePoints = 200;

const char* const kStyle = R"css(
:root { font-family: system-ui, sans-serif; color: #222; background: #fafafa; }
body { margin: 0 auto; padding: 1em 1.5em; max-width: 1400px; }
h1 { font-size: 1.5em; margin: 0.2em 0; }
h2 { font-size: 1.15em; margin: 1.2em 0 0.4em; }
h3 { font-size: 1em; margin: 0 0 0.4em; font-weight: 600; }
.sub { color: #555; margin: 0.2em 0 1em; }
table { border-collapse: collapse; background: #fff; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
td.num { font-variant-numeric: tabular-nums; }
small { color: #777; }
pre { background: #fff; border: 1px solid #ddd; padding: 0.6em; overflow: auto; max-height: 28em;
      font-size: 0.85em; white-space: pre-wrap; word-break: break-word; }
.tabs { display: flex; flex-wrap: wrap; gap: 0.3em; margin: 1.2em 0 0.4em; }
.tabs button { font: inherit; padding: 0.3em 0.9em; border: 1px solid #bbb; background: #eee;
               cursor: pointer; border-radius: 4px; }
.tabs button[aria-selected=true] { background: #fff; border-color: #333; font-weight: 600; }
.pager { display: flex; align-items: center; gap: 0.4em; margin: 0.6em 0; }
.pager button, .pager select { font: inherit; }
.items { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 0.8em; }
.item { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 0.7em; }
.classes { margin: 0 0 0.5em; font-size: 0.9em; }
.classes span { margin-right: 0.9em; }
.badge { font-size: 0.75em; padding: 0.1em 0.5em; border-radius: 3px; margin-left: 0.5em; }
.badge.yes { background: #d6f5d6; color: #135313; }
.badge.no { background: #fbd9d9; color: #7a1010; }
.row { display: flex; flex-wrap: wrap; gap: 0.6em; align-items: flex-end; }
figure { margin: 0; text-align: center; }
figcaption { font-size: 0.75em; color: #555; }
.row img { height: 112px; min-width: 40px; image-rendering: pixelated; background: #eee; }
.strip { margin-top: 0.5em; overflow-x: auto; text-align: left; }
.strip img { height: 96px; image-rendering: pixelated; }
.curves { display: flex; flex-wrap: wrap; gap: 0.6em; margin-top: 0.5em; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
figure.plot svg { background: #fff; border: 1px solid #ddd; }
figure.plot text { font-size: 11px; fill: #333; }
.dir { color: #777; }
svg.curve { background: #fcfcfc; border: 1px solid #eee; }
svg.curve text { font-size: 9px; fill: #666; }
svg.curve polyline { fill: none; stroke-width: 1.5; }
.s0 { stroke: #1f77b4; } .s1 { stroke: #d62728; } .s2 { stroke: #2ca02c; }
.nums { display: flex; flex-wrap: wrap; gap: 0.2em 1em; font-size: 0.8em; color: #444;
        margin: 0.5em 0 0; }
.nums b { font-weight: 600; }
.missing { color: #a00; font-size: 0.8em; }
details { margin: 0.4em 0; }
summary { cursor: pointer; color: #444; }
)css";

// Pagination and tabs. Only the items of the page shown get their images' src set, so a
// 1,000-item page decodes ~50 items' images at a time. Reads nothing but the DOM.
const char* const kScript = R"js(
(function () {
  'use strict';
  var runs = Array.prototype.slice.call(document.querySelectorAll('section.run'));
  var tabs = Array.prototype.slice.call(document.querySelectorAll('.tabs button'));
  function load(item) {
    item.querySelectorAll('img[data-src]').forEach(function (img) {
      img.src = img.getAttribute('data-src');
      img.removeAttribute('data-src');
    });
  }
  function showPage(run, page) {
    var pages = Number(run.getAttribute('data-pages'));
    page = Math.max(0, Math.min(pages - 1, page));
    run.setAttribute('data-page', String(page));
    run.querySelectorAll('article.item').forEach(function (item) {
      var on = Number(item.getAttribute('data-page')) === page;
      item.hidden = !on;
      if (on) load(item);
    });
    run.querySelectorAll('.pager').forEach(function (nav) {
      nav.querySelector('select').value = String(page);
      nav.querySelector('.info').textContent = 'page ' + (page + 1) + ' of ' + pages;
      nav.querySelector('[data-act=prev]').disabled = page === 0;
      nav.querySelector('[data-act=next]').disabled = page === pages - 1;
    });
  }
  function showRun(k) {
    runs.forEach(function (run, i) { run.hidden = i !== k; });
    tabs.forEach(function (tab, i) { tab.setAttribute('aria-selected', String(i === k)); });
    showPage(runs[k], Number(runs[k].getAttribute('data-page')));
  }
  runs.forEach(function (run) {
    var pages = Number(run.getAttribute('data-pages'));
    run.querySelectorAll('.pager').forEach(function (nav) {
      var select = nav.querySelector('select');
      for (var p = 0; p < pages; ++p) {
        var opt = document.createElement('option');
        opt.value = String(p);
        opt.textContent = String(p + 1);
        select.appendChild(opt);
      }
      select.addEventListener('change', function () { showPage(run, Number(select.value)); });
      nav.addEventListener('click', function (ev) {
        var act = ev.target.getAttribute && ev.target.getAttribute('data-act');
        var page = Number(run.getAttribute('data-page'));
        if (act === 'prev') showPage(run, page - 1);
        if (act === 'next') showPage(run, page + 1);
      });
    });
  });
  tabs.forEach(function (tab, i) { tab.addEventListener('click', function () { showRun(i); }); });
  if (runs.length) showRun(0);
})();
)js";

std::string num(double v, int digits = 4) {
  if (!std::isfinite(v)) return std::isnan(v) ? "NaN" : (v > 0 ? "inf" : "-inf");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

bool is_interval(const json& v) { return v.is_object() && v.contains("mean"); }

// Any JSON value as escaped HTML text: numbers to 4 significant digits, intervals as
// "mean [lo, hi]".
std::string value_html(const json& v) {
  if (v.is_null()) return "&ndash;";
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number()) return num(v.get<double>());
  if (v.is_string()) return html_escape(v.get<std::string>());
  if (is_interval(v)) {
    // Rounded to the interval's precision; FID has no interval and keeps 4 digits.
    std::string s = html_escape(interval_text(v));
    if (v.contains("n")) s += " <small>n " + value_html(v["n"]) + "</small>";
    return s;
  }
  return html_escape(v.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string pretty(const json& j) {
  return html_escape(j.dump(2, ' ', false, json::error_handler_t::replace));
}

std::string str_field(const json& j, const std::string& key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

std::string kv_table(const json& obj) {
  std::string html = "<table>\n";
  auto row = [&](const std::string& k, const json& v) {
    html +=
        "<tr><th>" + html_escape(k) + "</th><td class=\"num\">" + value_html(v) + "</td></tr>\n";
  };
  for (const auto& [k, v] : obj.items()) {
    // A summary's "intervals" object: one row per metric, "mean [lo, hi] n".
    if (k == "intervals" && v.is_object()) {
      for (const auto& [m, ci] : v.items()) row(m + " (95% interval)", ci);
      continue;
    }
    row(k, v);
  }
  return html + "</table>\n";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Accumulates the page's HTML. Images of the page shown first get src; all others data-src,
// which the script turns into src when their page is opened.
class Page {
 public:
  std::string html;

  void open(const std::string& title) {
    std::random_device rd;
    char nonce[40];
    std::snprintf(nonce, sizeof nonce, "%08x%08x%08x", rd(), rd(), rd());
    nonce_ = nonce;
    // No fetch of any kind; the one script runs by its nonce, so an injected handler could
    // not run even if escaping ever failed.
    html += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    html +=
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src "
        "data:; style-src 'unsafe-inline'; script-src 'nonce-" +
        nonce_ + "'; base-uri 'none'; form-action 'none'\">\n";
    html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    html += "<link rel=\"icon\" href=\"data:,\">\n<title>" + html_escape(title) + "</title>\n";
    html += "<style>" + std::string(kStyle) + "</style>\n</head>\n<body>\n";
  }

  void close() {
    html += "<script nonce=\"" + nonce_ + "\">" + std::string(kScript) + "</script>\n";
    html += "</body>\n</html>\n";
  }

  // The items of one run, paged, in a <section class="run"> that starts with `head`.
  void run_section(const std::string& dir, const json& doc, bool first,
                   const std::string& head = "") {
    static const json kNone = json::array();
    const json& items = doc.contains("items") && doc["items"].is_array() ? doc["items"] : kNone;
    const size_t n = items.size();
    const size_t pages = std::max<size_t>(1, (n + kReportItemsPerPage - 1) / kReportItemsPerPage);
    html += "<section class=\"run\" data-pages=\"" + std::to_string(pages) + "\" data-page=\"0\"" +
            (first ? "" : " hidden") + ">\n" + head;
    html += "<h2>Items (" + std::to_string(n) + ")</h2>\n";
    pager();
    html += "<div class=\"items\">\n";
    for (size_t i = 0; i < n; ++i) {
      size_t page = i / kReportItemsPerPage;
      item(dir, items[i], page, first && page == 0);
    }
    html += "</div>\n";
    pager();
    html += "</section>\n";
  }

 private:
  std::string nonce_;

  void pager() {
    html +=
        "<nav class=\"pager\"><button type=\"button\" data-act=\"prev\">&lsaquo; previous</button>"
        "<select aria-label=\"page\"></select><span class=\"info\"></span>"
        "<button type=\"button\" data-act=\"next\">next &rsaquo;</button></nav>\n";
  }

  // An <img> of a PNG in the run folder, or a note if the file is gone.
  void image(const std::string& dir, const std::string& rel, const std::string& caption, bool eager,
             const char* cls = nullptr) {
    html += std::string("<figure") + (cls ? std::string(" class=\"") + cls + "\"" : "") + ">";
    fs::path p = fs::path(rel).is_absolute() ? fs::path(rel) : fs::path(dir) / rel;
    if (is_file(p.string())) {
      // base64 and the "data:image/png" prefix need no escaping inside an attribute.
      std::string uri = "data:image/png;base64," + base64_encode(read_file(p.string()));
      html += std::string("<img ") + (eager ? "src" : "data-src") + "=\"" + uri + "\" alt=\"" +
              html_escape(caption) + "\">";
    } else {
      html += "<span class=\"missing\">missing: " + html_escape(rel) + "</span>";
    }
    html += "<figcaption>" + html_escape(caption) + "</figcaption></figure>";
  }

  void item(const std::string& dir, const json& it, size_t page, bool eager) {
    std::set<std::string> shown;  // keys drawn specially; the rest go to the number list
    auto take = [&](const std::string& k) -> const json* {
      if (!it.contains(k)) return nullptr;
      shown.insert(k);
      return &it[k];
    };
    html += "<article class=\"item\" data-page=\"" + std::to_string(page) + "\"" +
            (page == 0 ? "" : " hidden") + ">\n<h3>";
    if (auto* v = take("index")) html += "#" + value_html(*v) + " ";
    if (auto* v = take("input")) html += value_html(*v);
    if (auto* v = take("valid"); v && v->is_boolean())
      html += v->get<bool>() ? "<span class=\"badge yes\">valid</span>"
                             : "<span class=\"badge no\">not valid</span>";
    html += "</h3>\n<p class=\"classes\">";
    class_span("original", "original_prob", "p", take);
    class_span("target", "", "", take);
    class_span("counterfactual", "target_prob", "p<sub>target</sub>", take);
    html += "</p>\n";

    // Images: the fixed ones first, then any other PNG a method added.
    const std::vector<std::pair<std::string, std::string>> known = {
        {"original", "original"},
        {"counterfactual", "counterfactual"},
        {"diff", "difference"},
        {"saliency", "saliency"},
        {"infill", "in-filled"}};
    html += "<div class=\"row\">";
    for (const auto& [key, caption] : known)
      if (auto* v = take(key); v && v->is_string())
        image(dir, v->get<std::string>(), caption, eager);
    for (const auto& [k, v] : it.items())
      if (!shown.count(k) && k != "stages" && v.is_string() &&
          ends_with(v.get<std::string>(), ".png")) {
        shown.insert(k);
        image(dir, v.get<std::string>(), k, eager);
      }
    html += "</div>\n";
    if (auto* v = take("stages"); v && v->is_string())
      image(dir, v->get<std::string>(), "stages: x \u2192 x\u0304", eager, "strip");

    html += "<div class=\"curves\">";
    if (auto* t = take("trace"); t && t->is_object()) {
      if (t->contains("target_prob"))
        curve("target probability by step", {{"p_target", (*t)["target_prob"]}}, true);
      if (t->contains("loss")) curve("loss by step", {{"loss", (*t)["loss"]}}, false);
    }
    std::vector<std::pair<std::string, json>> di;
    if (auto* v = take("deletion_curve")) di.emplace_back("deletion", *v);
    if (auto* v = take("insertion_curve")) di.emplace_back("insertion", *v);
    if (!di.empty()) curve("probability by fraction of pixels", di, true);
    html += "</div>\n";

    // Everything else scalar; .npy maps are linked, never embedded. "./" keeps a relative
    // path from being read as a URL scheme ("javascript:...").
    std::string links, nums;
    for (const auto& [k, v] : it.items()) {
      if (shown.count(k) || v.is_structured()) continue;
      if (v.is_string() && ends_with(v.get<std::string>(), ".npy")) {
        const std::string& path = v.get_ref<const std::string&>();
        std::string href = fs::path(path).is_absolute() ? path : "./" + path;
        links += "<a href=\"" + html_escape(href) + "\">" + html_escape(k) + ": " +
                 html_escape(path) + "</a> ";
      } else {
        nums += "<span><b>" + html_escape(k) + "</b> " + value_html(v) + "</span>";
      }
    }
    if (!nums.empty()) html += "<p class=\"nums\">" + nums + "</p>\n";
    if (!links.empty()) html += "<p class=\"nums\">" + links + "</p>\n";
    html += "</article>\n";
  }

  // "original: Ankle boot (3) p 0.99" from <role>_class_name / <role>_class / a prob key.
  template <class Take>
  void class_span(const std::string& role, const std::string& prob_key,
                  const std::string& prob_label, Take& take) {
    const json* name = take(role + "_class_name");
    const json* idx = take(role + "_class");
    if (!name && !idx) return;
    html += "<span>" + role + ": <b>" + (name ? value_html(*name) : value_html(*idx)) + "</b>";
    if (!prob_key.empty())
      if (auto* p = take(prob_key)) html += " " + prob_label + " " + value_html(*p);
    html += "</span>";
  }

  // An inline SVG line chart of one or more series of numbers over their index.
  void curve(const std::string& title, const std::vector<std::pair<std::string, json>>& series,
             bool unit_range) {
    const double W = 240, H = 96, left = 38, right = 6, top = 8, bottom = 16;
    std::vector<std::vector<std::pair<double, double>>> pts;  // (index fraction, value)
    double lo = unit_range ? 0.0 : INFINITY, hi = unit_range ? 1.0 : -INFINITY;
    size_t longest = 0;
    for (const auto& s : series) {
      std::vector<std::pair<double, double>> p;
      if (s.second.is_array()) {
        const size_t n = s.second.size();
        longest = std::max(longest, n);
        const size_t stride = std::max<size_t>(1, (n + kMaxCurvePoints - 1) / kMaxCurvePoints);
        for (size_t i = 0; i < n; i += stride) {
          size_t j = std::min(i, n - 1);
          if (i + stride >= n) j = n - 1;  // always keep the last value
          const json& v = s.second[j];
          if (!v.is_number() || !std::isfinite(v.get<double>())) continue;
          double y = v.get<double>();
          p.emplace_back(n > 1 ? double(j) / double(n - 1) : 0.0, y);
          if (!unit_range) lo = std::min(lo, y), hi = std::max(hi, y);
        }
      }
      pts.push_back(std::move(p));
    }
    if (!(lo <= hi)) lo = 0, hi = 1;
    if (hi - lo < 1e-12) {
      double pad = std::max(1e-6, std::abs(hi) * 0.1);
      lo -= pad, hi += pad;
    }
    auto X = [&](double f) { return left + f * (W - left - right); };
    auto Y = [&](double v) { return top + (hi - v) / (hi - lo) * (H - top - bottom); };
    char buf[64];
    html +=
        "<figure><svg class=\"curve\" width=\"240\" "
        "height=\"96\" viewBox=\"0 0 240 96\" role=\"img\"><title>" +
        html_escape(title) + "</title>";
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#ccc\"/>", left,
                  H - bottom, W - right, H - bottom);
    html += buf;
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#ccc\"/>", left, top,
                  left, H - bottom);
    html += buf;
    auto label = [&](double x, double y, const std::string& anchor, const std::string& text) {
      std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"", x, y);
      html += buf + anchor + "\">" + text + "</text>";
    };
    label(left - 3, top + 7, "end", num(hi, 3));
    label(left - 3, H - bottom, "end", num(lo, 3));
    label(left, H - 4, "start", "0");
    label(W - right, H - 4, "end", std::to_string(longest ? longest - 1 : 0));
    for (size_t s = 0; s < pts.size(); ++s) {
      auto p = pts[s];
      if (p.size() == 1) p.push_back({1.0, p[0].second});  // a single value: a flat line
      html += "<polyline class=\"s" + std::to_string(s % 3) + "\" points=\"";
      for (const auto& [f, v] : p) {
        std::snprintf(buf, sizeof buf, "%.1f,%.1f ", X(f), Y(v));
        html += buf;
      }
      html += "\"/>";
      if (series.size() > 1) {
        html += "<text class=\"s" + std::to_string(s % 3) + "\" x=\"" +
                std::to_string(int(W - right)) + "\" y=\"" + std::to_string(int(top + 9 + 10 * s)) +
                "\" text-anchor=\"end\">" + html_escape(series[s].first) + "</text>";
      }
    }
    html += "</svg><figcaption>" + html_escape(title) + "</figcaption></figure>";
  }
};

std::string result_title(const json& doc) {
  std::string method;
  if (doc.contains("config") && doc["config"].is_object())
    method = str_field(doc["config"], "method");
  std::string cmd = str_field(doc, "command");
  return "cfx " + (cmd.empty() ? std::string("run") : cmd) + (method.empty() ? "" : ": " + method);
}

// "model … · 32 items · cfx 0.1.0" under the title.
std::string model_line(const json& doc) {
  std::string s;
  if (doc.contains("model") && doc["model"].is_object()) {
    const json& m = doc["model"];
    s += "model <b>" + html_escape(str_field(m, "path")) + "</b>";
    if (m.contains("arch")) s += " (" + value_html(m["arch"]) + ")";
    if (m.contains("input_shape")) s += " input " + value_html(m["input_shape"]);
  }
  if (doc.contains("items") && doc["items"].is_array())
    s += " &middot; " + std::to_string(doc["items"].size()) + " items";
  if (doc.contains("cfx_version")) s += " &middot; cfx " + value_html(doc["cfx_version"]);
  return s;
}

// The exact configuration: the invocation as typed, and the JSON behind it folded away
// (it is long and the items are what a reader came for).
std::string config_block(const std::string& invocation, const json& cfg) {
  std::string html = "<pre>" + html_escape(invocation) + "</pre>\n";
  return html + "<details><summary>configuration (JSON)</summary><pre>" + pretty(cfg) +
         "</pre></details>\n";
}

// A result document's configuration: its model, config and run.
std::string config_block(const json& doc) {
  json cfg = json::object();
  for (const char* k : {"model", "config", "run"})
    if (doc.contains(k)) cfg[k] = doc[k];
  std::string inv;
  if (doc.contains("run") && doc["run"].is_object()) inv = str_field(doc["run"], "invocation");
  return config_block(inv, cfg);
}

void write_page(const std::string& out_dir, const std::string& html) {
  ensure_writable_dir(out_dir);
  write_atomic((fs::path(out_dir) / "report.html").string(), html);
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string base64_encode(const std::string& bytes) {
  static const char* const kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 |
                 uint32_t(uint8_t(bytes[i + 2]));
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += kAlphabet[v >> 6 & 63];
    out += kAlphabet[v & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += i + 1 < bytes.size() ? kAlphabet[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

void write_html_report(const std::string& out_dir, const json& doc) {
  Page page;
  const std::string title = result_title(doc);
  page.open(title);
  page.html += "<header><h1>" + html_escape(title) + "</h1><p class=\"sub\">" + model_line(doc) +
               "</p></header>\n";
  if (doc.contains("summary") && doc["summary"].is_object()) {
    page.html += "<h2>Summary</h2>\n";
    page.html += kv_table(doc["summary"]);
  }
  page.html += "<h2>Configuration</h2>\n" + config_block(doc);
  page.run_section(out_dir, doc, true);
  page.close();
  write_page(out_dir, page.html);
}

void write_eval_html_report(const std::string& out_dir, const json& eval_doc,
                            const std::vector<ReportRun>& runs) {
  Page page;
  page.open("cfx eval");
  page.html +=
      "<header><h1>cfx eval</h1><p class=\"sub\">" + std::to_string(runs.size()) + " method(s)";
  if (!runs.empty()) page.html += " &middot; " + model_line(runs.front().doc);
  page.html += "</p></header>\n";

  // The comparison first: what a reader wants to see before the dense table.
  static const json kNoMethods = json::array();
  std::string plots =
      eval_comparison_plots(eval_doc.contains("methods") ? eval_doc["methods"] : kNoMethods);
  if (!plots.empty())
    page.html += "<h2>Comparison</h2>\n<div class=\"plots\">\n" + plots + "</div>\n";

  json settings = json::object();
  for (const auto& [k, v] : eval_doc.items())
    if (!v.is_structured() && k.rfind("schema", 0) != 0 && k != "invocation") settings[k] = v;
  page.html += "<h2>Settings</h2>\n";
  page.html += kv_table(settings);

  // Metrics as rows, methods as columns, each cell "mean [lo, hi]".
  static const json kNone = json::array();
  const json& methods =
      eval_doc.contains("methods") && eval_doc["methods"].is_array() ? eval_doc["methods"] : kNone;
  std::vector<std::string> metrics;
  for (const auto& m : methods)
    if (m.contains("summary"))
      for (const auto& [k, v] : m["summary"].items())
        if (std::find(metrics.begin(), metrics.end(), k) == metrics.end()) metrics.push_back(k);
  page.html +=
      "<h2>Metrics <small>mean [95% interval]; \u2191 higher is better, \u2193 lower is "
      "better</small></h2>\n<table>\n<tr><th>metric</th>";
  for (const auto& m : methods)
    page.html += "<th>" + value_html(m.value("method", json())) + "</th>";
  page.html += "</tr>\n";
  for (const auto& k : metrics) {
    std::string arrow = direction_arrow(k);
    page.html += "<tr><th>" + html_escape(k) +
                 (arrow.empty() ? "" : " <span class=\"dir\">" + arrow + "</span>") + "</th>";
    for (const auto& m : methods) {
      bool has = m.contains("summary") && m["summary"].contains(k);
      page.html += "<td class=\"num\">" + (has ? value_html(m["summary"][k]) : "&ndash;") + "</td>";
    }
    page.html += "</tr>\n";
  }
  page.html += "</table>\n";

  json cfg = eval_doc;
  if (cfg.contains("methods") && cfg["methods"].is_array())
    for (auto& m : cfg["methods"]) m.erase("summary");  // shown in the table above
  page.html += "<h2>Configuration</h2>\n" + config_block(str_field(eval_doc, "invocation"), cfg);

  page.html += "<div class=\"tabs\" role=\"tablist\">";
  for (const auto& r : runs)
    page.html += "<button type=\"button\" role=\"tab\">" + html_escape(r.name) + "</button>";
  page.html += "</div>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    // Each method's own numbers sit inside its tab, above its items.
    std::string head = "<h2>" + html_escape(runs[i].name) + "</h2>\n";
    if (runs[i].doc.contains("summary")) head += kv_table(runs[i].doc["summary"]);
    page.run_section(runs[i].dir, runs[i].doc, i == 0, head + config_block(runs[i].doc));
  }
  page.close();
  write_page(out_dir, page.html);
}

}  // namespace cfx
