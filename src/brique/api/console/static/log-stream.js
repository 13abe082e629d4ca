// The job page's live log: appends what the server streams (server-sent events), reloads the page
// when the job changes state (for its events), stops at the end of the attempt. Without JavaScript
// the page refreshes itself instead (a <noscript> meta refresh).
(function () {
  "use strict";
  var log = document.getElementById("log");
  if (!log || !log.dataset.stream || !window.EventSource) { return; }
  var source = new EventSource(log.dataset.stream);
  var fresh = log.dataset.empty === "true";
  source.onmessage = function (e) {
    if (fresh) { log.textContent = ""; fresh = false; }
    var atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.textContent += JSON.parse(e.data);
    if (atBottom) { log.scrollTop = log.scrollHeight; }
    log.dataset.offset = e.lastEventId;
  };
  source.addEventListener("state", function () { source.close(); window.location.reload(); });
  source.addEventListener("end", function () { source.close(); log.dataset.live = "ended"; });
  log.dataset.live = "on";
}());
