// A referral file's page: poll the import's progress until it finishes, then reload.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box || box.dataset.finished === "1") return;
  function poll() {
    fetch(box.dataset.url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (d) {
      document.getElementById("import-bar").style.width = d.percent + "%";
      document.getElementById("import-status").textContent = d.status_label;
      document.getElementById("import-count").textContent = d.text;
      if (d.finished) { window.location.reload(); } else { setTimeout(poll, 1000); }
    }).catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 800);
})();
