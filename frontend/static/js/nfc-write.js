// Write a card's link to a blank NFC tag with Web NFC (Chrome on Android). Elsewhere, say clearly that this
// browser cannot. Loaded only by servicecards/nfc.html; the texts come translated in data-* attributes.
(function () {
  "use strict";
  var box = document.getElementById("nfc-writer");
  if (!box) return;
  var status = document.getElementById("nfc-status");
  var button = document.getElementById("nfc-write");

  function say(text, kind) {
    status.textContent = text;
    status.className = "flash flash-" + kind;
  }

  if (!("NDEFReader" in window)) {
    say(box.getAttribute("data-unsupported"), "error");
    button.disabled = true;
    return;
  }
  button.disabled = false;
  button.addEventListener("click", function () {
    var url = box.getAttribute("data-url");
    button.disabled = true;
    say(box.getAttribute("data-ready"), "info");
    var writer = new window.NDEFReader();
    Promise.resolve()
      .then(function () { return writer.write({ records: [{ recordType: "url", data: url }] }); })
      .then(function () { say(box.getAttribute("data-done"), "success"); })
      .catch(function (error) {
        var reason = (error && (error.message || error.name)) || String(error);
        say(box.getAttribute("data-failed").replace("{error}", reason), "error");
      })
      .then(function () { button.disabled = false; });
  });
})();
