// The dashboard's charts (Chart.js 4, vendored): the figures come from the page's JSON data block
// (#dashboard-data, written by the server), never from inline script (the CSP forbids it).
(function () {
  "use strict";
  function start() {
    var holder = document.getElementById("dashboard-data");
    if (!holder || !window.Chart) return;
    var payload = JSON.parse(holder.textContent);
    var data = payload.data, names = payload.labels;
    var colors = { connection_rate: "#0b6e8a", completion_rate: "#067647", satisfaction: "#7a5af8",
                   complaints: "#b42318", praise: "#12b76a" };
    function line(id, block, keys, max) {
      var el = document.getElementById(id);
      if (!el) return;
      new window.Chart(el, {
        type: "line",
        data: { labels: block.labels, datasets: keys.map(function (k) {
          return { label: names[k], data: block[k], borderColor: colors[k], backgroundColor: colors[k],
                   spanGaps: true, tension: 0.2 };
        }) },
        options: { animation: false, responsive: true, scales: { y: { min: 0, max: max } } }
      });
    }
    function bars(id, block, keys) {
      var el = document.getElementById(id);
      if (!el) return;
      new window.Chart(el, {
        type: "bar",
        data: { labels: block.labels, datasets: keys.map(function (k) {
          return { label: names[k], data: block[k], backgroundColor: colors[k] };
        }) },
        options: { animation: false, responsive: true, scales: { y: { beginAtZero: true } } }
      });
    }
    line("chart-weekly-rates", data.weekly, ["connection_rate", "completion_rate", "satisfaction"], 100);
    bars("chart-weekly-feedback", data.weekly, ["complaints", "praise"]);
    line("chart-monthly-rates", data.monthly, ["connection_rate", "completion_rate", "satisfaction"], 100);
    bars("chart-departments", data.departments, ["satisfaction", "complaints", "praise"]);
    document.body.dataset.chartsReady = "1";
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
