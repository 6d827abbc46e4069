// Draws every <canvas data-chart="ID"> with Chart.js from the JSON in <script id="ID"
// type="application/json"> (cbo_portal/charts.py writes it). No inline script: the
// Content-Security-Policy allows none. The same numbers are in a table beside each chart.
(function () {
  "use strict";
  if (!window.Chart) { return; }
  var phone = window.matchMedia("(max-width: 600px)");
  var dollars = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
  var compact = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", notation: "compact", maximumFractionDigits: 1 });
  var exact = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
  var count = new Intl.NumberFormat("en-US");

  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = 12;
  Chart.defaults.color = "#475569";

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) { return; }
    var figures = JSON.parse(source.textContent);
    var valueAxis = figures.horizontal ? "x" : "y";
    var categoryAxis = figures.horizontal ? "y" : "x";
    var scales = {};
    scales[valueAxis] = {
      beginAtZero: true,
      grid: { color: "#eef2f7" },
      ticks: {
        precision: 0,
        callback: function (value) {
          if (!figures.money) { return count.format(value); }
          return (phone.matches || Math.abs(value) >= 100000 ? compact : dollars).format(value);
        }
      }
    };
    scales[categoryAxis] = { grid: { display: false }, ticks: { autoSkip: true, maxRotation: 0 } };
    new Chart(canvas, {
      type: "bar",
      data: { labels: figures.labels, datasets: figures.datasets.map(function (d) { return Object.assign({ maxBarThickness: 32 }, d); }) },
      options: {
        indexAxis: categoryAxis,
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: scales,
        plugins: {
          legend: { display: figures.datasets.length > 1, position: "top", align: "start",
                    labels: { boxWidth: 12, boxHeight: 12 } },
          tooltip: {
            callbacks: {
              label: function (item) {
                var value = item.parsed[valueAxis];
                return item.dataset.label + ": " + (figures.money ? exact.format(value) : count.format(value));
              }
            }
          }
        }
      }
    });
  });
})();
