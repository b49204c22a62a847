/* Admin overview charts: Chart.js draws each <canvas data-chart="name"> from the JSON block
   #overview-chart-data (CSP allows no inline script). Every chart has a table with the same
   numbers next to it, so nothing is lost when this file or Chart.js does not load.

   The charts sit below the fold, and Chart.js (70 KB compressed) plus drawing four charts
   held a phone's main thread for about a second while the page was loading. So Chart.js is
   fetched when the first chart comes near the viewport, and each chart is drawn in its own
   task, so that taps and scrolling are answered between two charts. The canvas boxes have
   a fixed height (admin_overview.css): drawing later moves nothing. */
(function () {
  "use strict";

  var source = null;
  var data = null;
  var loading = null;

  function readData() {
    source = document.getElementById("overview-chart-data");
    if (!source) return false;
    try {
      data = JSON.parse(source.textContent);
    } catch (err) {
      return false;
    }
    return true;
  }

  // One <script> for the whole page, however many charts ask; `done` runs when it ran.
  function loadChartJs(done) {
    if (typeof window.Chart !== "undefined") {
      done();
      return;
    }
    if (!loading) {
      loading = [];
      var script = document.createElement("script");
      script.src = source.getAttribute("data-chart-src");
      script.async = true;
      script.onload = function () {
        configure();
        loading.forEach(function (callback) { callback(); });
        loading = [];
      };
      document.head.appendChild(script);
    }
    loading.push(done);
  }

  function configure() {
    var style = getComputedStyle(document.documentElement);
    window.Chart.defaults.font.family = "'IBM Plex Sans', 'Helvetica Neue', Arial, sans-serif";
    window.Chart.defaults.color = style.getPropertyValue("--cds-text-secondary").trim() || "#525252";
    window.Chart.defaults.animation = false;
  }

  function draw(canvas) {
    var spec = data[canvas.dataset.chart];
    if (!spec || typeof window.Chart === "undefined") return;
    var grid = getComputedStyle(document.documentElement).getPropertyValue("--cds-border-subtle").trim() || "#e0e0e0";
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
  }

  // Charts wait in line and are drawn one per task.
  var queue = [];
  var scheduled = false;

  function drawNext() {
    scheduled = false;
    var canvas = queue.shift();
    if (canvas) draw(canvas);
    if (queue.length) schedule();
  }

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    window.setTimeout(drawNext, 0);
  }

  function request(canvas) {
    if (canvas.dataset.chartQueued === "true") return;
    canvas.dataset.chartQueued = "true";
    queue.push(canvas);
    loadChartJs(schedule);
  }

  function start() {
    if (!readData()) return;
    var canvases = Array.prototype.slice.call(document.querySelectorAll("canvas[data-chart]"));
    if (!canvases.length) return;
    if (!("IntersectionObserver" in window)) {
      canvases.forEach(request);
      return;
    }
    // A screen ahead of the scroll position, so a chart is usually drawn before it shows.
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (!entry.isIntersecting) return;
        observer.unobserve(entry.target);
        request(entry.target);
      });
    }, { rootMargin: "100% 0px" });
    canvases.forEach(function (canvas) { observer.observe(canvas); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
