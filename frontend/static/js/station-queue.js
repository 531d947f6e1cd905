// The list of scans this station saved offline (stations/queue.html): read from the device's IndexedDB queue
// (service-worker/src/queue-store.mjs), newest first, with each scan's state and, for a scan the server refused
// for good, its reason in the device's language. "Send now" replays the queue at once.
(function () {
  "use strict";
  const root = document.getElementById("station-queue");
  if (!root) return;
  const T = JSON.parse(document.getElementById("queue-strings").textContent);
  const $ = (id) => document.getElementById(id);
  let store = null;
  let replay = null;
  let skew = null;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function fill(text, params) {
    return String(text).replace(/%\((\w+)\)s/g, (m, key) => (params && key in params ? String(params[key]) : m));
  }
  function when(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? "" : d.toLocaleString([], { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }
  function shown(local) {
    if (!local) return "";
    if (local.accepted) return T.shown_ok;
    return T.shown_refused + " · " + fill(T.reasons[local.reason] || T.reasons.error, local.params || {});
  }

  async function render() {
    const records = (await store.all()).reverse();
    const rows = $("queue-rows");
    rows.replaceChildren();
    const counts = {};
    records.forEach((r) => {
      counts[r.state] = (counts[r.state] || 0) + 1;
      const local = r.local || {};
      const tr = el("tr", { "data-testid": "queued-scan", "data-state": r.state, "data-scan": r.scan_id });
      tr.append(
        el("td", {}, when(r.scanned_at)),
        el("td", {}, T.modes[r.mode] || r.mode),
        el("td", {}, local.holder || local.card_number || "—"),
        el("td", {}, shown(r.local)),
        el("td", { class: "queue-state queue-state-" + r.state }, T.states[r.state] || r.state),
        el("td", { "data-testid": "queued-answer" }, r.state === "refused" || r.state === "done"
          ? (r.message || (r.reason ? fill(T.reasons[r.reason] || T.reasons.error, {}) : "")) : ""),
      );
      rows.append(tr);
    });
    $("queue-summary").textContent = records.length ? Object.keys(T.states).filter((s) => counts[s])
      .map((s) => T.states[s] + ": " + counts[s]).join(" · ") : T.empty;
  }

  async function sendNow() {
    if (!store) return;
    $("queue-send").disabled = true;
    try {
      await replay.replayOnce({ store, force: true, clock: skew });
      await store.setMeta("clock", skew.toJSON());
    } catch (e) { /* the states below say what happened */ }
    $("queue-send").disabled = false;
    await render();
  }

  Promise.all([import("/sw-src/queue-store.mjs"), import("/sw-src/replay.mjs"), import("/sw-src/clock.mjs")])
    .then(async ([queue, replayModule, clockModule]) => {
      store = new queue.QueueStore();
      replay = replayModule;
      skew = clockModule.ClockSkew.fromJSON(await store.getMeta("clock"));
      $("queue-send").addEventListener("click", sendNow);
      if (navigator.serviceWorker) {
        navigator.serviceWorker.addEventListener("message", (event) => {
          if (event.data && event.data.type === "linli:queue") render();
        });
      }
      await render();
    })
    .catch(() => { $("queue-summary").textContent = T.unavailable; $("queue-send").hidden = true; });
})();
