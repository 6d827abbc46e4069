// Small behaviours every page may use, wired by data attributes (the Content-Security-Policy
// allows no inline script or on...= handlers):
//   <select data-autosubmit>        submits its form when the choice changes
//   <form data-confirm="Question?"> asks before submitting
//   <button data-print>             opens the print dialog
// and the section bar, when wider than the screen, shows its current link and fades where more are.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) { el.form.submit(); }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
  document.addEventListener("click", function (event) {
    var el = event.target.closest ? event.target.closest("[data-print]") : null;
    if (el) { event.preventDefault(); window.print(); }
  });
  document.querySelectorAll(".subnav ul").forEach(function (bar) {
    function cue() {
      bar.classList.toggle("more-left", bar.scrollLeft > 2);
      bar.classList.toggle("more-right", bar.scrollLeft + bar.clientWidth < bar.scrollWidth - 2);
    }
    var current = bar.querySelector('[aria-current="page"]');
    if (current && bar.scrollWidth > bar.clientWidth) {
      bar.scrollLeft = current.offsetLeft - (bar.clientWidth - current.offsetWidth) / 2;
    }
    bar.addEventListener("scroll", cue, { passive: true });
    window.addEventListener("resize", cue);
    cue();
  });
})();
