/* Admin overview charts: Chart.js draws each <canvas data-chart="name"> from the JSON block
   #overview-chart-data (CSP allows no inline script). Every chart has a table with the same
   numbers next to it, so nothing is lost when this file or Chart.js does not load. */
(function () {
  "use strict";

  function draw() {
    var source = document.getElementById("overview-chart-data");
    if (!source || typeof window.Chart === "undefined") return;
    var data;
    try {
      data = JSON.parse(source.textContent);
    } catch (err) {
      return;
    }
    var style = getComputedStyle(document.documentElement);
    var text = style.getPropertyValue("--cds-text-secondary").trim() || "#525252";
    var grid = style.getPropertyValue("--cds-border-subtle").trim() || "#e0e0e0";
    window.Chart.defaults.font.family = "'IBM Plex Sans', 'Helvetica Neue', Arial, sans-serif";
    window.Chart.defaults.color = text;
    window.Chart.defaults.animation = false;

    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var spec = data[canvas.dataset.chart];
      if (!spec) return;
      var type = canvas.dataset.chartType || "bar";
      var stacked = canvas.dataset.stacked === "true";
      var horizontal = canvas.dataset.horizontal === "true";
      var percent = canvas.dataset.percent === "true";
      var valueAxis = {
        beginAtZero: true,
        stacked: stacked,
        grid: { color: grid },
        ticks: { precision: 0 }
      };
      if (percent) {
        valueAxis.max = 100;
        valueAxis.ticks = { callback: function (v) { return v + "%"; } };
      }
      var labelAxis = { stacked: stacked, grid: { display: false } };
      new window.Chart(canvas, {
        type: type,
        data: {
          labels: spec.labels,
          datasets: spec.datasets.map(function (set) {
            return {
              label: set.label,
              data: set.data,
              backgroundColor: set.color,
              borderColor: set.color,
              borderWidth: type === "line" ? 2 : 0,
              pointRadius: type === "line" ? 2 : 0,
              spanGaps: true
            };
          })
        },
        options: {
          indexAxis: horizontal ? "y" : "x",
          maintainAspectRatio: false,
          responsive: true,
          scales: horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis },
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } }
        }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
