/* Linli mobile pages: small progressive enhancements only; every page works without them. */
(function () {
  "use strict";

  // Copy the tracking link.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var input = document.querySelector(button.getAttribute("data-copy"));
    if (!input) return;
    var done = function () { button.textContent = button.getAttribute("data-done") || "OK"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
    } else {
      input.select();
      try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
    }
  });

  // Anonymous: hide the name and phone fields.
  function syncIdentity() {
    var box = document.querySelector("input[name=anonymous]");
    var fields = document.querySelector("[data-identity]");
    if (box && fields) fields.hidden = box.checked;
  }
  // 情况紧急: the reason field shows only while the box is ticked.
  function syncUrgent() {
    var box = document.querySelector("input[name=urgent]");
    var field = document.querySelector("[data-urgent-reason]");
    if (box && field) field.hidden = !box.checked;
  }
  document.addEventListener("DOMContentLoaded", syncUrgent);
  document.addEventListener("change", function (event) {
    if (event.target.name === "urgent") syncUrgent();
    if (event.target.name === "anonymous") syncIdentity();
    if (event.target.type === "file" && event.target.hasAttribute("data-max")) checkCount(event.target);
  });
  document.addEventListener("DOMContentLoaded", syncIdentity);

  function checkCount(input) {
    var max = parseInt(input.getAttribute("data-max"), 10) || 6;
    var error = input.parentNode.querySelector("[data-photo-error]");
    var tooMany = input.files && input.files.length > max;
    if (error) {
      error.hidden = !tooMany;
      error.textContent = tooMany ? "最多上传 " + max + " 张照片（已选 " + input.files.length + " 张），请重新选择" : "";
    }
    if (tooMany) input.value = "";
  }

  // Resize big photos before upload (weak 4G); originals are sent when the browser cannot.
  var MAX_SIDE = 1600;
  function shrink(file) {
    if (!/^image\/(jpeg|png|webp)$/.test(file.type) || file.size < 600 * 1024 || !window.createImageBitmap) {
      return Promise.resolve(file);
    }
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
      if (scale >= 1) return file;
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          resolve(blob ? new File([blob], file.name.replace(/\.\w+$/, "") + ".jpg", { type: "image/jpeg" }) : file);
        }, "image/jpeg", 0.85);
      });
    }).catch(function () { return file; });
  }

  // Coming back to a page from the history cache: its forms may be sent again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sent]").forEach(function (form) {
      form.removeAttribute("data-sent");
      var button = form.querySelector("button[aria-busy]");
      if (button) button.removeAttribute("aria-busy");
    });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = form.querySelector("button[type=submit]");
    if (form.hasAttribute("data-once")) {
      if (form.getAttribute("data-sent")) { event.preventDefault(); return; }
      form.setAttribute("data-sent", "1");
      if (button) button.setAttribute("aria-busy", "true");
    }
    var input = form.hasAttribute("data-resize") && form.querySelector("input[type=file][name=photos]");
    if (!input || !input.files || !input.files.length || typeof DataTransfer === "undefined") return;
    event.preventDefault();
    Promise.all(Array.prototype.map.call(input.files, shrink)).then(function (files) {
      try {
        var list = new DataTransfer();
        files.forEach(function (f) { list.items.add(f); });
        input.files = list.files;
      } catch (e) { /* keep the originals */ }
      form.submit();
    });
  });
})();
