// Live progress of a simulation run: server-sent events from /runs/{id}/events.
// No build step; served by the binary. The page works without it (reload to update).
(function () {
  var live = document.getElementById("run-live");
  if (!live || live.dataset.finished === "true" || !window.EventSource) return;
  var bar = document.getElementById("run-progress");
  var status = document.getElementById("run-status");
  var source = new EventSource(live.dataset.events);
  function show(e) {
    var d = JSON.parse(e.data);
    bar.value = d.percent;
    status.textContent = d.status + " " + Math.round(d.percent) + " %";
  }
  source.addEventListener("progress", function (e) {
    show(e);
    // How many live updates this page has shown (the browser test reads it).
    live.dataset.progressEvents = String(Number(live.dataset.progressEvents || "0") + 1);
  });
  source.addEventListener("end", function (e) {
    show(e);
    source.close();
    // The finished page carries the chart and the headline numbers.
    window.location.reload();
  });
})();
