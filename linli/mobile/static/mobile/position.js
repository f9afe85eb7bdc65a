/* The phone's position for a grid worker's report (mobile/_position.html): fills the hidden lat/lng/accuracy
   fields from navigator.geolocation. Texts come from the button's data- attributes (translated by the template);
   everything is written with textContent. Without JavaScript or a position, the typed place description is used. */
(function () {
  "use strict";

  function box(el) { return el.closest("[data-position]"); }
  function field(root, name) { return root.querySelector("input[name=" + name + "]"); }

  function show(root, text) {
    var status = root.querySelector("[data-position-status]");
    if (status) status.textContent = text;
  }

  function set(root, lat, lng, accuracy) {
    field(root, "lat").value = lat;
    field(root, "lng").value = lng;
    field(root, "accuracy").value = accuracy;
    var clear = root.querySelector("[data-position-clear]");
    if (clear) clear.hidden = lat === "";
  }

  function locate(button) {
    var root = box(button);
    if (!navigator.geolocation) { show(root, button.getAttribute("data-unsupported")); return; }
    button.setAttribute("aria-busy", "true");
    show(root, button.getAttribute("data-busy"));
    navigator.geolocation.getCurrentPosition(function (pos) {
      button.removeAttribute("aria-busy");
      var lat = pos.coords.latitude.toFixed(6);
      var lng = pos.coords.longitude.toFixed(6);
      var accuracy = Math.round(pos.coords.accuracy || 0);
      set(root, lat, lng, accuracy || "");
      show(root, button.getAttribute("data-done") + " " + lat + ", " + lng +
        (accuracy ? " (±" + accuracy + " " + button.getAttribute("data-meters") + ")" : ""));
    }, function () {
      button.removeAttribute("aria-busy");
      set(root, "", "", "");
      show(root, button.getAttribute("data-denied"));
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-locate]");
    if (button) { locate(button); return; }
    var clear = event.target.closest("[data-position-clear]");
    if (clear) { var root = box(clear); set(root, "", "", ""); show(root, ""); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-locate]").forEach(function (button) { button.hidden = false; });
  });
})();
