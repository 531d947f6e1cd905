// Linli: small progressive enhancements, loaded with `defer` on every page. Every page works without it.
(function () {
  "use strict";

  // (a) Send the CSRF token (from <meta name="csrf-token">) with every htmx request.
  document.addEventListener("htmx:configRequest", function (evt) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) evt.detail.headers["x-csrftoken"] = meta.content;
  });

  // (b) Register the service worker; the site works the same without it.
  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      // a module worker: it imports the offline scan queue (/sw-src/); updateViaCache "none" rechecks those too
      navigator.serviceWorker.register("/sw.js", { type: "module", updateViaCache: "none" }).catch(function () {});
    });
  }

  // A signed-out phone must not keep showing its owner's card page from the service worker's cache.
  document.addEventListener("submit", function (evt) {
    if (evt.target.matches && evt.target.matches("form.logout") && window.caches) window.caches.delete("linli-pages");
  });

  // (c) <form data-confirm="…"> (or a submit button with data-confirm) asks before submitting.
  // Capture phase on document: runs before htmx's own submit listener on the form, so "Cancel" stops both.
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    var button = evt.submitter;
    var text = (button && button.getAttribute("data-confirm")) || (form && form.getAttribute("data-confirm"));
    if (text && !window.confirm(text)) {
      evt.preventDefault();
      evt.stopImmediatePropagation();
    }
  }, true);

  // (d) Flash messages stay until the user leaves (no auto-dismiss); focus the first one so a screen reader
  // reads it, on page load and when htmx swaps a new one in.
  function focusFlash(root) {
    var flash = root && root.querySelector && root.querySelector(".flash");
    if (!flash && root && root.classList && root.classList.contains("flash")) flash = root;
    if (!flash) return;
    if (!flash.hasAttribute("tabindex")) flash.setAttribute("tabindex", "-1");
    flash.focus();
  }
  focusFlash(document);

  // (e) A failed request must never pass silently: a server error or a dropped network shows the page's own
  // translated message (data-* on #flash) in the flash area.
  function showFailure(kind) {
    var area = document.getElementById("flash");
    if (!area) return;
    var box = document.createElement("div");
    box.className = "flash flash-error";
    box.setAttribute("role", "alert");
    box.textContent = area.getAttribute(kind === "network" ? "data-network-error" : "data-server-error");
    area.replaceChildren(box);
    focusFlash(area);
  }
  document.addEventListener("htmx:sendError", function () { showFailure("network"); });
  document.addEventListener("htmx:responseError", function (evt) {
    if (evt.detail.xhr.status >= 500) showFailure("server");
  });
  document.addEventListener("htmx:afterSettle", function (evt) { focusFlash(evt.target); });
})();
