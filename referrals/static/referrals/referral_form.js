// The referral form: once the CBO (or, for a community referral, the plan) is chosen, the service
// list holds only what that CBO is contracted for in the member's county today, and the services
// left out are listed with the reason. Without this script the server refuses them with the reason.
(function () {
  "use strict";
  var form = document.getElementById("referral-form");
  if (!form) return;
  var service = document.getElementById("id_service");
  var partner = document.getElementById("id_cbo") || document.getElementById("id_plan");
  var county = document.getElementById("id_county");
  var box = document.getElementById("not-offered");
  var every = Array.prototype.map.call(service.options, function (o) { return [o.value, o.text]; });

  function fill(options) {
    var chosen = service.value;
    service.innerHTML = "";
    options.forEach(function (o) { service.add(new Option(o[1], o[0], false, String(o[0]) === chosen)); });
  }
  function line(tag, text, cls) {
    var el = document.createElement(tag);
    el.textContent = text;
    if (cls) el.className = cls;
    return el;
  }
  function show(data) {
    fill([["", "---------"]].concat(data.offered.map(function (s) { return [s.id, s.label]; })));
    box.innerHTML = "";
    var who = partner.options[partner.selectedIndex].text;
    if (!data.offered.length) {
      // The reason that rules out everything (no contract, wrong county) says more than "does not cover X".
      var main = data.not_offered.filter(function (s) { return s.code !== "service_not_covered"; })[0]
        || data.not_offered[0];
      box.appendChild(line("p", "No service can be referred to " + who + " for this member today"
        + (main ? ": " + main.reason : "."), "notice-text"));
    }
    if (data.not_offered.length) {
      var details = document.createElement("details");
      details.appendChild(line("summary", data.not_offered.length + (data.offered.length ? " other" : "")
        + " service" + (data.not_offered.length === 1 ? " is" : "s are") + " not offered, and why"));
      var list = document.createElement("ul");
      data.not_offered.forEach(function (s) {
        var item = line("li", "");
        item.appendChild(line("strong", s.label));
        item.appendChild(document.createTextNode(": " + s.reason));
        list.appendChild(item);
      });
      details.appendChild(list);
      box.appendChild(details);
    }
    box.hidden = !box.childNodes.length;
  }
  function reset() {
    fill(every);
    box.hidden = true;
  }
  function refresh() {
    if (!partner || !partner.value) { reset(); return; }
    var params = new URLSearchParams({county: county ? county.value : ""});
    params.set(partner.name, partner.value);
    fetch(form.dataset.offeredUrl + "?" + params.toString(), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(show)
      .catch(reset);
  }
  if (partner) partner.addEventListener("change", refresh);
  if (county) county.addEventListener("change", refresh);
  refresh();
})();
