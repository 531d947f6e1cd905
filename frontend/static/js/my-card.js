// "My card": the rotating phone code. When the phone is offline (no fresh code can be fetched, or the code on
// screen has expired), show the printed card's static code instead, marked as such; switch back once a fresh
// code arrives. Loaded only by servicecards/my_card.html.
(function () {
  "use strict";
  var root = document.getElementById("my-cards");
  if (!root) return;
  var refresh = Math.max(2, parseInt(root.getAttribute("data-refresh"), 10) || 30);

  function setOffline(section, offline) {
    var phone = section.querySelector("[data-phone]");
    var printed = section.querySelector("[data-static]");
    if (phone) phone.hidden = offline;
    if (printed) printed.hidden = !offline;
  }

  function sectionOf(el) { return el.closest("section"); }

  function retryLater(widget) {
    window.setTimeout(function () {
      if (document.body.contains(widget) && window.htmx) window.htmx.trigger(widget, "retry-code");
    }, Math.min(refresh, 10) * 1000);
  }

  // A failed refresh is expected offline: no error banner, just the printed code, and try again soon.
  root.addEventListener("htmx:sendError", function (evt) {
    evt.stopPropagation();
    var section = sectionOf(evt.target);
    if (section) setOffline(section, true);
    retryLater(evt.target);
  });
  root.addEventListener("htmx:responseError", function (evt) {
    var section = sectionOf(evt.target);
    if (section && evt.detail.xhr.status >= 500) { evt.stopPropagation(); setOffline(section, true); retryLater(evt.target); }
  });
  root.addEventListener("htmx:afterSwap", function (evt) {
    var section = sectionOf(evt.target);
    if (section && evt.target.classList && evt.target.classList.contains("phone-code")) setOffline(section, false);
  });

  // A code that has expired on screen is useless: show the printed one until a fresh code arrives.
  function checkExpiry() {
    root.querySelectorAll(".phone-code").forEach(function (widget) {
      var expires = parseInt(widget.getAttribute("data-expires"), 10);
      if (!navigator.onLine || (expires && Date.now() >= expires)) setOffline(sectionOf(widget), true);
    });
  }
  checkExpiry();
  window.setInterval(checkExpiry, 1000);
  window.addEventListener("offline", checkExpiry);
  window.addEventListener("online", function () {
    root.querySelectorAll(".phone-code").forEach(function (widget) {
      if (window.htmx) window.htmx.trigger(widget, "retry-code");
    });
  });
})();
