// Work a worker is doing (a batch's file, a claim build): poll its progress, then reload when done.
(function () {
  "use strict";
  var card = document.getElementById("progress-card");
  if (!card) return;
  function poll() {
    fetch(card.dataset.progressUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (d) {
      document.getElementById("progress-bar").style.width = d.percent + "%";
      document.getElementById("progress-text").textContent = d.text;
      if (d.finished) { window.location.reload(); } else { setTimeout(poll, 1000); }
    }).catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
