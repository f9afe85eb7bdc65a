// The home page's map of a street's or county's communities (console/home.html): one circle per community at the
// mean position of its grids, sized by its open cases, red when some are overdue, linked to its filtered list.
// Tiles only when the deployment configured LINLI_MAP_TILE_URL. Popups are DOM nodes filled with textContent,
// never HTML strings (docs/adr/0020).
(function () {
  "use strict";
  function draw() {
    var box = document.getElementById("area-map");
    var data = document.getElementById("area-points");
    if (!box || !data || !window.L) return;
    var points = JSON.parse(data.textContent).filter(function (p) {
      return typeof p.lat === "number" && typeof p.lng === "number";
    });
    if (!points.length) {
      box.classList.add("empty");
      box.textContent = box.dataset.empty || "";
      return;
    }
    var map = window.L.map(box, { attributionControl: false });
    if (box.dataset.tiles) window.L.tileLayer(box.dataset.tiles, { maxZoom: 19 }).addTo(map);
    var most = Math.max.apply(null, points.map(function (p) { return p.open; }).concat([1]));
    var bounds = [];
    points.forEach(function (p) {
      var link = document.createElement("a");
      link.href = /^\/(?!\/)/.test(String(p.url)) ? p.url : "#";
      link.textContent = p.name + "：" + p.open + " / " + p.overdue;
      var label = document.createElement("span"); // a node, not an HTML string: names are never parsed as HTML
      label.textContent = p.name;
      window.L.circleMarker([p.lat, p.lng], {
        radius: 5 + 20 * Math.sqrt(p.open / most),
        color: p.overdue ? "#c4161c" : "#1f6feb",
        fillOpacity: 0.45,
        weight: 1
      }).bindPopup(link).bindTooltip(label).addTo(map);
      bounds.push([p.lat, p.lng]);
    });
    map.fitBounds(bounds, { maxZoom: 16, padding: [24, 24] });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
