// The map of an emerging issue's appeals (console/hotspots/detail.html): one circle per appeal, linked to its page.
// Tiles only when the deployment configured LINLI_MAP_TILE_URL; otherwise the points, the grid's named buildings and a
// scale on a plain background (the page says how to configure tiles).
// Popups are DOM nodes filled with textContent, never HTML strings: titles come from residents (docs/adr/0020).
(function () {
  "use strict";
  function draw() {
    var box = document.getElementById("hotspot-map");
    var data = document.getElementById("hotspot-points");
    if (!box || !data || !window.L) return;
    var points = JSON.parse(data.textContent);
    if (!points.length) return;
    var map = window.L.map(box, { attributionControl: false });
    if (box.dataset.tiles) window.L.tileLayer(box.dataset.tiles, { maxZoom: 19 }).addTo(map);
    window.L.control.scale({ imperial: false }).addTo(map);
    var bounds = [];
    // The buildings of the grid (grey, named): where the points are when there is no tile layer.
    var buildings = document.getElementById("hotspot-buildings");
    JSON.parse(buildings ? buildings.textContent : "[]").forEach(function (b) {
      var label = document.createElement("span");
      label.textContent = b.name;
      window.L.circleMarker([b.lat, b.lng], { radius: 5, color: "#5b6b82", weight: 1, fillOpacity: 0.5, interactive: false })
        .bindTooltip(label, { permanent: true, direction: "right", className: "hotspot-building-label" })
        .addTo(map);
      bounds.push([b.lat, b.lng]);
    });
    points.forEach(function (p) {
      var popup = document.createElement("a");
      // Only this site's own paths: a data value never becomes a javascript: or foreign link.
      popup.href = /^\/(?!\/)/.test(String(p.url)) ? p.url : "#";
      popup.textContent = p.number + " " + p.title;
      window.L.circleMarker([p.lat, p.lng], { radius: 8, color: "#c4161c", fillOpacity: 0.6 })
        .bindPopup(popup)
        .addTo(map);
      bounds.push([p.lat, p.lng]);
    });
    map.fitBounds(bounds, { maxZoom: 18, padding: [24, 24] });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
