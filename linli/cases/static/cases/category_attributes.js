// The extra fields of the chosen category in an entry form (cases/_attributes_fields.html): show and enable the
// fieldset of the category picked in the select named by data-category-select, hide and disable the others (a
// disabled fieldset is not submitted, so only the chosen category's answers reach the server). No inline code (CSP).
(function () {
  "use strict";
  function wire(box) {
    var select = document.getElementById(box.getAttribute("data-category-select"));
    if (!select) return;
    var sets = box.querySelectorAll("fieldset.attr-set");
    function show() {
      for (var i = 0; i < sets.length; i++) {
        var on = sets[i].getAttribute("data-category") === select.value;
        sets[i].hidden = !on;
        sets[i].disabled = !on;
      }
    }
    select.addEventListener("change", show);
    show();
  }
  function init() {
    var boxes = document.querySelectorAll("[data-category-select]");
    for (var i = 0; i < boxes.length; i++) wire(boxes[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
