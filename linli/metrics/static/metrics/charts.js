/* The 三率 page's charts (ECharts, vendored) and its period fields. Chart data comes from the page as JSON
   (<script type="application/json">), so this file holds no numbers and no strings of its own.
   Loaded as a file: the Content-Security-Policy allows no inline script (docs/adr/0020). */
(function () {
  "use strict";

  var COLORS = ["#1456b8", "#1d8a3a", "#d48806", "#a8071a", "#6b4fbb"];

  function read(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function mount(id, option) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) return null;
    var chart = window.echarts.init(el, null, { renderer: "svg" });
    chart.setOption(option);
    window.addEventListener("resize", function () { chart.resize(); });
    return chart;
  }

  // ECharts puts a tooltip formatter's string into the page as HTML: every data value (category, region and series
  // names come from users) goes through esc(). Only ECharts' own colour marker is left as HTML.
  var HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  function esc(value) {
    return String(value === null || value === undefined ? "" : value).replace(/[&<>"']/g, function (ch) {
      return HTML_ESCAPES[ch];
    });
  }

  function percent(value) {
    return value === null || value === undefined ? "—" : value + "%";
  }

  function trend(data) {
    var series = data.series.map(function (s, i) {
      return {
        name: s.name, type: "line", yAxisIndex: 0, data: s.data, connectNulls: false, symbolSize: 6,
        lineStyle: { width: 2 }, itemStyle: { color: COLORS[i % COLORS.length] },
      };
    });
    series.push({
      name: data.cases_name, type: "bar", yAxisIndex: 1, data: data.cases, barMaxWidth: 18,
      itemStyle: { color: "#c9d6ea" }, z: 1,
    });
    return {
      animation: false,
      color: COLORS,
      tooltip: {
        trigger: "axis",
        className: "chart-tooltip",
        formatter: function (items) {
          var lines = [items.length ? esc(items[0].axisValueLabel) : ""];
          items.forEach(function (it) {
            var v = it.seriesType === "bar" ? it.value : percent(it.value);
            lines.push(it.marker + esc(it.seriesName) + "：" + esc(v));
          });
          return lines.join("<br>");
        },
      },
      legend: { bottom: 0, type: "scroll" },
      grid: { left: 48, right: 48, top: 36, bottom: 56 },
      xAxis: { type: "category", data: data.labels, axisTick: { alignWithLabel: true } },
      yAxis: [
        { type: "value", name: data.axis_rate, min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
        { type: "value", name: data.axis_cases, minInterval: 1, splitLine: { show: false } },
      ],
      series: series,
    };
  }

  function categories(data) {
    return {
      animation: false,
      tooltip: {
        trigger: "axis",
        className: "chart-tooltip",
        axisPointer: { type: "shadow" },
        formatter: function (items) {
          if (!items.length) return "";
          var i = items[0].dataIndex;
          var lines = [esc(items[0].axisValueLabel)];
          items.forEach(function (it) { lines.push(it.marker + esc(it.seriesName) + "：" + esc(it.value)); });
          lines.push(esc(data.satisfaction_name) + "：" + esc(percent(data.satisfaction[i])));
          return lines.join("<br>");
        },
      },
      legend: { bottom: 0 },
      grid: { left: 8, right: 24, top: 8, bottom: 32, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: data.labels, axisLabel: { width: 150, overflow: "truncate" } },
      series: [
        { name: data.cases_name, type: "bar", data: data.cases, itemStyle: { color: "#1456b8" }, barMaxWidth: 14 },
        { name: data.resolved_name, type: "bar", data: data.resolved, itemStyle: { color: "#1d8a3a" }, barMaxWidth: 14 },
      ],
    };
  }

  function linkPeriodFields() {
    // Editing a date means a custom period; picking a preset leaves the dates to the server.
    var select = document.getElementById("m-period");
    ["m-start", "m-end"].forEach(function (id) {
      var input = document.getElementById(id);
      if (input && select) input.addEventListener("change", function () { select.value = "custom"; });
    });
  }

  function init() {
    linkPeriodFields();
    var t = read("metrics-trend");
    if (t) mount("metrics-trend-chart", trend(t));
    var c = read("metrics-categories");
    if (c) mount("metrics-category-chart", categories(c));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
