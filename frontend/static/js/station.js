// The station scan screen (stations/scan.html). Every input — camera, keyboard-wedge scanner, typed card number,
// Web NFC, a photo decoded on the server — ends in the same scan(): POST /api/v1/scans, then a big green or red
// result. What the station offers (modes and their choices) comes from GET /api/v1/station/offline (its `config`,
// the same as GET /api/v1/station); every word shown
// comes translated from the page (#station-strings).
//
// Offline (ARCHITECTURE.md "Offline"): the station keeps GET /api/v1/station/offline (config, card keys, revoked
// cards, rosters, known cards' balances, its offline limit) in IndexedDB and refreshes it while online. When the
// network is down (or a scan's POST gets no answer, a 5xx, 409 or 429) the scan is judged on the device
// (offline-judge.mjs), shown "saved offline, will sync", and its RECORD is queued (service-worker/src, the same
// scan_id: a scan that did reach the server is answered as a duplicate). The queue replays to the batch endpoint
// here (on load, on "online", on a back-off timer) and in the service worker (Background Sync, worker start).
(function () {
  "use strict";
  const root = document.getElementById("station");
  if (!root) return;
  const T = JSON.parse(document.getElementById("station-strings").textContent);
  const $ = (id) => document.getElementById(id);
  const resultBox = $("result");
  const input = $("scan-input");
  const STORE = "linli.station." + root.getAttribute("data-station");
  const DEVICE = Number(root.getAttribute("data-device")) || null;
  const ONLINE_TIMEOUT_MS = 8000; // an online scan waits this long for an answer, then is judged here and queued
  const REFRESH_MS = 5 * 60 * 1000; // the offline data is fetched again this often while online
  const SYNC_TAG = "linli-scans";
  const UNDO_MS = 2 * 60 * 1000;
  const SAME_CODE_MS = 3000;
  const FRAME_MS = 125; // ~8 frames a second is plenty for a card held still, and spares a phone's battery

  // A station mode ("checkin") may give several scan modes; each scan mode takes its choices from one key of
  // the station config and sends the chosen id as one detail.
  const SCAN_MODES = { checkin: ["checkin", "checkout"], award: ["award"], redeem_shop: ["redeem_shop"],
    redeem_offer: ["redeem_offer"], report_in: ["report_in"] };
  const CHOICES = {
    award: { config: "award_items", detail: "item_id" },
    checkin: { config: "events", detail: "event_id" },
    checkout: { config: "events", detail: "event_id" },
    redeem_shop: { config: "goods", detail: "goods_id", quantity: true },
    redeem_offer: { config: "offers", detail: "offer_id" },
    report_in: { config: "report_projects", detail: "project_id" },
  };

  let config = null;
  let saved = load();
  let busy = false;
  let pinOpen = false;

  function load() {
    try { return JSON.parse(localStorage.getItem(STORE)) || {}; } catch (e) { return {}; }
  }
  function save() {
    try { localStorage.setItem(STORE, JSON.stringify(saved)); } catch (e) { /* private mode: just not remembered */ }
  }
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function fill(text, params) {
    return text.replace(/%\((\w+)\)s/g, (m, key) => (key in params ? String(params[key]) : m));
  }
  function focusInput() {
    if (!pinOpen) input.focus({ preventScroll: true });
  }
  // After a choice made with a finger or mouse, the scanner field gets the focus back; a keyboard user moving
  // through the choices with the arrow keys keeps it where it is.
  let byPointer = false;
  document.addEventListener("pointerdown", () => { byPointer = true; }, true);
  document.addEventListener("keydown", () => { byPointer = false; }, true);
  function focusAfterChoice() {
    if (byPointer) focusInput();
  }
  // crypto.randomUUID exists only in secure contexts; a station on a plain-http LAN address still needs ids
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join("-");
  }

  // --- modes and their choices ------------------------------------------------------------------------

  function options(mode) {
    return (config && config[CHOICES[mode].config]) || [];
  }
  function clock(iso) {
    return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  // each domain sends its own fields: an award item has a ready label, an event a title, place and times,
  // goods a name, price and stock, an offer a title, price, what it gives and how many are left
  function labelOf(entry) {
    if (entry.label) return entry.label;
    const name = entry.name || entry.title || String(entry.id);
    const parts = [typeof entry.points === "number" ? fill(T.priced, { name: name, points: entry.points }) : name];
    if (entry.gives) parts.push(entry.gives);
    if (entry.place) parts.push(entry.place);
    if (entry.starts_at && entry.ends_at) parts.push(clock(entry.starts_at) + "–" + clock(entry.ends_at));
    if (typeof entry.stock === "number") parts.push(fill(T.stock, { stock: entry.stock }));
    if (typeof entry.remaining === "number") parts.push(fill(T.remaining, { remaining: entry.remaining }));
    return parts.join(" · ");
  }

  function renderModes() {
    const modes = [];
    config.station.modes.forEach((m) => (SCAN_MODES[m] || []).forEach((s) => modes.push(s)));
    const tiles = $("mode-tiles");
    tiles.replaceChildren();
    if (!modes.includes(saved.mode)) saved.mode = modes[0];
    modes.forEach((mode) => {
      const label = el("label", { class: "mode-tile" });
      const radio = el("input", { type: "radio", name: "mode", value: mode });
      radio.checked = mode === saved.mode;
      radio.addEventListener("change", () => { saved.mode = mode; save(); renderChoice(); focusAfterChoice(); });
      label.append(radio, el("span", {}, T.modes[mode] || mode));
      tiles.append(label);
    });
    $("modes").hidden = modes.length === 0;
    renderChoice();
  }

  function renderChoice() {
    const box = $("choice");
    box.replaceChildren();
    const mode = saved.mode;
    if (!mode) return;
    const list = options(mode);
    if (mode === "redeem_shop" && config.shop_open === false) box.append(el("p", { class: "flash flash-info" }, T.shop_closed));
    if (!list.length) {
      box.append(el("p", { class: "flash flash-info" }, T.nothing_to_choose));
      return;
    }
    saved.choices = saved.choices || {};
    const field = el("div", { class: "field" });
    const select = el("select", { id: "choice-select" });
    list.forEach((entry) => {
      const option = el("option", { value: String(entry.id) }, labelOf(entry));
      option.selected = String(entry.id) === String(saved.choices[mode]);
      select.append(option);
    });
    saved.choices[mode] = select.value;
    select.addEventListener("change", () => { saved.choices[mode] = select.value; save(); focusAfterChoice(); });
    field.append(el("label", { for: "choice-select" }, T.choose[mode]), select);
    box.append(field);
    if (CHOICES[mode].quantity) {
      const qty = el("div", { class: "field" });
      const number = el("input", { id: "choice-quantity", type: "number", min: "1", max: "99", step: "1",
        inputmode: "numeric", value: String(saved.quantity || 1) });
      number.addEventListener("change", () => { saved.quantity = Math.max(1, parseInt(number.value, 10) || 1); save(); });
      qty.append(el("label", { for: "choice-quantity" }, T.quantity), number);
      box.append(qty);
    }
    save();
  }

  function details() {
    const mode = saved.mode;
    const chosen = options(mode).find((e) => String(e.id) === String((saved.choices || {})[mode]));
    if (!chosen) return null;
    const out = {};
    out[CHOICES[mode].detail] = chosen.id;
    if (CHOICES[mode].quantity) out.quantity = Math.max(1, parseInt(($("choice-quantity") || {}).value, 10) || 1);
    return out;
  }

  // --- the scan ---------------------------------------------------------------------------------------

  function scan(card) {
    card = String(card || "").trim();
    if (!card || busy || !config) return;
    if (!saved.mode) { showNote(T.choose_first); return; }
    const chosen = details();
    if (!chosen) { showNote(T.nothing_to_choose); return; }
    const body = { scan_id: uuid(), scanned_at: new Date().toISOString(), mode: saved.mode, card: card, details: chosen };
    send(body);
  }

  async function send(body) {
    busy = true;
    showSending();
    if (navigator.onLine === false && offline.judge) {
      await judgeHere(body);
      return;
    }
    let response, answer;
    try {
      response = await fetchWithin("/api/v1/scans", { method: "POST", credentials: "same-origin", body: JSON.stringify(body),
        headers: { "Content-Type": "application/json", Accept: "application/json" } }, ONLINE_TIMEOUT_MS);
      answer = await response.json();
    } catch (e) {
      if (!response || response.ok || response.status >= 500) response = null;
    } finally {
      busy = false;
    }
    // the scan API's meaning of a status: 2xx saved, 409/429/5xx or no answer "try again", other 4xx final;
    // "try again" is judged here and queued with the same scan_id when the station has its offline data
    if (!response || response.status === 409 || response.status === 429 || response.status >= 500 || !answer) {
      if (offline.judge) await judgeHere(body);
      else showRetry(body);
    } else if (response.ok) {
      showAccepted(answer);
    } else if (answer.reason === "pin_required" || answer.reason === "wrong_pin") {
      openPinPad(body, answer);
    } else {
      showRefused(answer);
    }
  }

  // --- the result area ----------------------------------------------------------------------------------

  function show(panel) {
    resultBox.replaceChildren(panel);
    focusInput();
  }
  function showNote(text) {
    show(el("div", { class: "result-idle" }, text));
  }
  function showSending() {
    show(el("div", { class: "result-idle", "aria-busy": "true" }, T.sending));
  }

  // other screens' scripts (e.g. claims awaiting the holder's confirmation) react to a result without touching this file
  function announce(answer) {
    document.dispatchEvent(new CustomEvent("linli:scan-result", { detail: answer }));
  }

  // judged on this device while offline: saved in the queue, sent when the network is back
  function offlineMark(panel) {
    panel.append(el("p", { class: "result-offline", "data-testid": "result-offline" }, T.offline_saved));
  }

  function showAccepted(answer, here) {
    announce(answer);
    const panel = el("div", { class: "result-screen result-ok", "data-testid": "result-ok" });
    panel.append(el("p", { class: "result-title" }, T.accepted));
    if (here) offlineMark(panel);
    if (answer.holder) panel.append(el("p", { class: "result-holder", "data-testid": "result-holder" }, answer.holder));
    panel.append(el("p", { class: "result-message" }, answer.message));
    Object.values(answer.summary || {}).filter((v) => typeof v === "string")
      .forEach((v) => panel.append(el("p", { class: "result-summary" }, v)));
    if (answer.points) {
      panel.append(el("p", { class: "result-points", "data-testid": "result-points" },
        (answer.points > 0 ? "+" : "−") + Math.abs(answer.points)));
    }
    if (answer.balance !== null && answer.balance !== undefined) {
      panel.append(el("p", { class: "result-balance" }, fill(here ? T.balance_estimate : T.balance, { balance: answer.balance })));
    }
    const buttons = el("div", { class: "btn-row" });
    if (!answer.duplicate && !here) {
      const undoButton = el("button", { type: "button", class: "btn btn-secondary btn-lg" }, T.undo);
      undoButton.addEventListener("click", () => undo(answer.scan_id));
      buttons.append(undoButton);
      // the server decides (2 minutes from when it recorded the scan); the button only stops offering it
      window.setTimeout(() => undoButton.remove(), UNDO_MS);
    }
    buttons.append(nextButton());
    panel.append(buttons);
    show(panel);
    cue(true);
  }

  function showRefused(answer, here) {
    announce(answer);
    const panel = el("div", { class: "result-screen result-fail", "data-testid": "result-fail", role: "alert" });
    panel.append(el("p", { class: "result-title" }, T.refused));
    if (here) offlineMark(panel);
    if (answer.holder) panel.append(el("p", { class: "result-holder" }, answer.holder));
    panel.append(el("p", { class: "result-message", "data-testid": "result-reason" }, answer.message));
    const buttons = el("div", { class: "btn-row" });
    buttons.append(nextButton());
    panel.append(buttons);
    show(panel);
    cue(false);
  }

  function showRetry(body) {
    const panel = el("div", { class: "result-screen result-retry", "data-testid": "result-retry", role: "alert" });
    panel.append(el("p", { class: "result-title" }, T.retry_title), el("p", { class: "result-message" }, T.retry));
    const again = el("button", { type: "button", class: "btn btn-primary btn-lg" }, T.try_again);
    // the same scan_id: if the first try did reach the server, the server answers it again instead of twice
    again.addEventListener("click", () => send(body));
    const buttons = el("div", { class: "btn-row" });
    buttons.append(again, nextButton());
    panel.append(buttons);
    show(panel);
    cue(false);
  }

  function nextButton() {
    const next = el("button", { type: "button", class: "btn btn-secondary btn-lg" }, T.next);
    next.addEventListener("click", () => showNote(resultBox.getAttribute("data-idle")));
    return next;
  }

  async function undo(scanId) {
    let response, answer;
    try {
      response = await fetch("/api/v1/scans/" + encodeURIComponent(scanId) + "/undo",
        { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" } });
      answer = await response.json();
    } catch (e) {
      response = null;
    }
    if (!response || !answer || response.status === 409 || response.status === 429 || response.status >= 500) {
      showNote(T.retry);
    } else if (response.ok) {
      const panel = el("div", { class: "result-screen result-undone", "data-testid": "result-undone", role: "status" });
      panel.append(el("p", { class: "result-title" }, answer.message || T.undone));
      panel.append(el("div", { class: "btn-row" }, null));
      panel.lastChild.append(nextButton());
      show(panel);
    } else {
      showRefused({ message: answer.message });
    }
  }

  // --- sound and vibration: a high beep for yes, two low ones for no --------------------------------------

  let audio = null;
  function cue(ok) {
    if (navigator.vibrate) navigator.vibrate(ok ? 120 : [250, 120, 250]);
    if (!audio) return;
    try {
      const tones = ok ? [[880, 0, 0.15]] : [[220, 0, 0.22], [220, 0.32, 0.22]];
      tones.forEach(([freq, start, length]) => {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = freq;
        gain.gain.value = 0.25;
        osc.connect(gain).connect(audio.destination);
        osc.start(audio.currentTime + start);
        osc.stop(audio.currentTime + start + length);
      });
    } catch (e) { /* no sound on this device: the colours and words still say it */ }
  }
  // Browsers allow sound only after a gesture (a tap, a key — a scanner's keystrokes count). Making the audio
  // context takes ~100 ms, so it is made then, not when the first result is waiting to be shown.
  function wakeAudio() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
    } catch (e) { audio = null; }
  }
  document.addEventListener("pointerdown", wakeAudio);
  document.addEventListener("keydown", wakeAudio);

  // --- the PIN pad --------------------------------------------------------------------------------------

  function openPinPad(body, answer) {
    pinOpen = true;
    const panel = el("form", { class: "pin-pad", "data-testid": "pin-pad" });
    panel.append(el("p", { class: "result-title" }, T.pin_title));
    panel.append(el("p", { class: "pin-reason", role: "alert" }, answer.message));
    const field = el("div", { class: "field" });
    const pin = el("input", { id: "pin-input", type: "password", inputmode: "numeric", autocomplete: "off",
      maxlength: "6", pattern: "[0-9]*" });
    field.append(el("label", { for: "pin-input" }, T.pin_label), pin);
    panel.append(field);
    const keys = el("div", { class: "pin-keys" });
    ["1", "2", "3", "4", "5", "6", "7", "8", "9", "del", "0", "ok"].forEach((key) => {
      const label = key === "del" ? T.pin_delete : key === "ok" ? T.pin_ok : key;
      const button = el("button", { type: key === "ok" ? "submit" : "button",
        class: "btn btn-lg " + (key === "ok" ? "btn-primary" : "btn-secondary") }, label);
      if (key === "del") button.addEventListener("click", () => { pin.value = pin.value.slice(0, -1); pin.focus(); });
      else if (key !== "ok") button.addEventListener("click", () => { if (pin.value.length < 6) pin.value += key; pin.focus(); });
      keys.append(button);
    });
    panel.append(keys);
    const cancel = el("button", { type: "button", class: "btn btn-secondary btn-lg btn-block" }, T.pin_cancel);
    cancel.addEventListener("click", () => { pinOpen = false; showNote(resultBox.getAttribute("data-idle")); });
    panel.append(cancel);
    panel.addEventListener("submit", (evt) => {
      evt.preventDefault();
      if (!pin.value) return;
      pinOpen = false;
      // a new scan (new scan_id): the refused one stays on record as refused
      send(Object.assign({}, body, { scan_id: uuid(), scanned_at: new Date().toISOString(), pin: pin.value }));
    });
    resultBox.replaceChildren(panel);
    pin.focus();
    cue(false);
  }

  // --- inputs -------------------------------------------------------------------------------------------

  // (b, c) keyboard-wedge scanners type the code and Enter; people type a card number and press OK
  $("scan-form").addEventListener("submit", (evt) => {
    evt.preventDefault();
    const value = input.value;
    input.value = "";
    scan(value);
  });
  // the field keeps the focus, so a scanner's keystrokes always land in it
  document.addEventListener("click", (evt) => {
    if (!evt.target.closest("button, select, input, a, label, textarea, summary")) focusInput();
  });

  // (a) the camera, decoded in the page with jsQR
  const video = $("camera-video");
  const canvas = document.createElement("canvas");
  const toggle = $("camera-toggle");
  let stream = null;
  let timer = null;
  let lastCode = "";
  let lastSeen = 0;

  async function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.jsQR) {
      $("camera-note").textContent = T.camera_failed;
      toggle.hidden = true;
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (e) {
      $("camera-note").textContent = T.camera_failed;
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    await video.play().catch(() => {});
    $("camera-note").textContent = "";
    toggle.textContent = T.camera_stop;
    timer = window.setInterval(decodeFrame, FRAME_MS);
  }

  function stopCamera() {
    window.clearInterval(timer);
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    video.hidden = true;
    toggle.textContent = T.camera_start;
  }

  const context = canvas.getContext("2d", { willReadFrequently: true });
  function decodeFrame() {
    // nothing is decoded before the station's settings are there: a card seen then would count as "seen" and
    // not be scanned once they arrive (it is still in front of the camera)
    if (busy || pinOpen || !config || video.readyState < 2 || !video.videoWidth) return;
    // a smaller frame decodes faster; a card held at the camera stays large enough
    const scale = Math.min(1, 640 / video.videoWidth);
    const w = Math.round(video.videoWidth * scale);
    const h = Math.round(video.videoHeight * scale);
    canvas.width = w;
    canvas.height = h;
    context.drawImage(video, 0, 0, w, h);
    const code = window.jsQR(context.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: "dontInvert" });
    if (!code || !code.data) return;
    const now = Date.now();
    // a card held in front of the camera is one scan, not eight a second
    const repeated = code.data === lastCode && now - lastSeen < SAME_CODE_MS;
    lastCode = code.data;
    lastSeen = now;
    if (!repeated) scan(code.data);
  }

  toggle.addEventListener("click", () => {
    if (stream) { stopCamera(); saved.camera = "off"; } else { startCamera(); saved.camera = "on"; }
    save();
  });

  // (d) Web NFC, where the browser has it (Chrome on Android)
  if ("NDEFReader" in window) {
    const start = $("nfc-start");
    start.hidden = false;
    $("nfc-note").textContent = "";
    start.addEventListener("click", async () => {
      try {
        const reader = new window.NDEFReader();
        reader.addEventListener("reading", (event) => {
          const record = event.message.records.find((r) => r.recordType === "url" || r.recordType === "text");
          if (record) scan(new TextDecoder(record.encoding || "utf-8").decode(record.data));
        });
        await reader.scan();
        $("nfc-note").textContent = T.nfc_ready;
      } catch (error) {
        $("nfc-note").textContent = fill(T.nfc_failed, { error: (error && (error.message || error.name)) || String(error) });
      }
    });
  }

  // (e) a photo, decoded on the server, then scanned like any other code
  const photo = $("photo-input");
  photo.addEventListener("change", async () => {
    const file = photo.files && photo.files[0];
    if (!file || busy) return;
    const form = new FormData();
    form.append("photo", file);
    busy = true;
    showNote(T.photo_sending);
    let response, answer;
    try {
      response = await fetch("/api/v1/scans/photo", { method: "POST", credentials: "same-origin", body: form,
        headers: { Accept: "application/json" } });
      answer = await response.json();
    } catch (e) {
      response = null;
    } finally {
      busy = false;
      photo.value = "";
    }
    if (!response || !answer || response.status === 409 || response.status === 429 || response.status >= 500) showNote(T.retry);
    else if (response.ok) scan(answer.card);
    else showRefused(answer);
  });

  // --- start: the station's modes and choices ------------------------------------------------------------

  // --- offline: the cached data, the judge on the device, the queue and its replay --------------------------

  const offline = { modules: null, store: null, clock: null, data: null, judge: null, timer: null };

  function fetchWithin(url, init, ms) {
    const controller = window.AbortController ? new AbortController() : null;
    const timer = window.setTimeout(() => controller && controller.abort(), ms);
    return fetch(url, Object.assign({ signal: controller ? controller.signal : undefined }, init))
      .finally(() => window.clearTimeout(timer));
  }

  function reasonText(verdict) {
    const params = Object.assign({}, verdict.params || {});
    ["opens", "closes"].forEach((k) => { if (params[k]) params[k] = clock(params[k]); });
    return fill(T.reasons[verdict.reason] || T.reasons.error, params);
  }

  // the same big result, from the device's own judgement; the scan RECORD is on disk before "saved" is shown
  async function judgeHere(body) {
    busy = true;
    try {
      if (!offline.modules.judge.OFFLINE_MODES.includes(body.mode)) {
        showRetry(body); // a mode the device cannot judge by itself: not saved, as before
        return;
      }
      const effects = offline.modules.judge.offlineEffects(await offline.store.all(), offline.data.fetched_at);
      const verdict = await offline.judge.judge(body, effects, Date.now());
      if (verdict.reason === "pin_required") {
        openPinPad(body, { message: reasonText(verdict) });
        return;
      }
      const best = offline.clock.best();
      const check = offline.clock.check(body.scanned_at);
      await offline.store.add(Object.assign({}, body, { device_id: DEVICE, local: verdict,
        clock: { device_minus_server_ms: best ? -best.offsetMs : null, reason: check.reason } }));
      requestSync();
      refreshCount();
      const answer = { scan_id: body.scan_id, mode: body.mode, accepted: verdict.accepted, reason: verdict.reason,
        holder: verdict.holder, points: verdict.points, balance: verdict.balance, summary: verdict.summary,
        offline: true, duplicate: false, message: verdict.accepted ? T.offline_accepted : reasonText(verdict) };
      if (verdict.accepted) showAccepted(answer, true);
      else showRefused(answer, true);
    } catch (e) {
      showRetry(body); // not even saved on the device (storage full or broken): say so, never pretend
    } finally {
      busy = false;
    }
  }

  function requestSync() {
    if (!navigator.serviceWorker) return;
    navigator.serviceWorker.ready
      .then((registration) => registration.sync && registration.sync.register(SYNC_TAG))
      .catch(() => { /* no Background Sync here: the page's own timer and the "online" event replay */ });
  }

  async function refreshCount() {
    if (!offline.store) return;
    let waiting = 0, refused = 0;
    try {
      waiting = await offline.store.count(["pending", "sending"]);
      refused = await offline.store.count("refused");
    } catch (e) { return; }
    const counter = $("queue-count");
    counter.hidden = false;
    counter.setAttribute("data-count", String(waiting));
    counter.textContent = fill(T.pending, { count: waiting });
    const note = $("queue-refused");
    note.hidden = refused === 0;
    $("queue-refused-link").textContent = fill(T.refused_by_server, { count: refused });
  }

  function showConnection() {
    $("offline-banner").hidden = navigator.onLine !== false;
  }

  async function replayNow(force) {
    if (!offline.store || navigator.onLine === false) return;
    let summary = null;
    try {
      summary = await offline.modules.replay.replayOnce({ store: offline.store, force: Boolean(force), clock: offline.clock });
      await offline.store.setMeta("clock", offline.clock.toJSON());
    } catch (e) { summary = null; }
    await refreshCount();
    window.clearTimeout(offline.timer);
    if (summary && summary.nextAttemptAt !== null && !summary.blocked) {
      const wait = Math.min(Math.max(summary.nextAttemptAt - Date.now(), 1000), REFRESH_MS);
      offline.timer = window.setTimeout(() => replayNow(false), wait);
    }
    // what the server now knows (balances, rosters) is worth having before the next offline spell
    if (summary && summary.done + summary.refused > 0) loadData();
  }

  async function useData(data) {
    offline.data = data;
    config = data.config;
    if (offline.modules) {
      try { offline.judge = await offline.modules.judge.OfflineJudge.from(data); } catch (e) { offline.judge = null; }
    }
  }

  // the station's data: fresh from the server (also a clock sample), else the copy kept on the device
  async function loadData() {
    let refused = null;
    try {
      const sentAt = Date.now();
      const response = await fetchWithin("/api/v1/station/offline", { credentials: "same-origin", cache: "no-store",
        headers: { Accept: "application/json" } }, 15000);
      const receivedAt = Date.now();
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        body.fetched_at = receivedAt;
        if (offline.store) {
          offline.clock.observe(Date.parse(body.server_time), sentAt, receivedAt, 0);
          await offline.store.setMeta("clock", offline.clock.toJSON()).catch(() => {});
          await offline.store.setMeta("offline_data", body).catch(() => {});
        }
        await useData(body);
        return { ok: true, fresh: true };
      }
      // the server answered no (a device switched off meanwhile): its own words, and no offline judging
      if (response.status >= 400 && response.status < 500) refused = body;
    } catch (e) { /* no network: the copy on the device */ }
    if (refused) {
      offline.judge = null;
      return { refused };
    }
    const kept = offline.store ? await offline.store.getMeta("offline_data").catch(() => undefined) : undefined;
    // a device paired to another station since keeps nothing of the old one's
    if (kept && !offline.data && String(kept.station && kept.station.id) === root.getAttribute("data-station")) await useData(kept);
    return { ok: Boolean(offline.data) };
  }

  async function loadModules() {
    try {
      const [queue, replay, skew, judge] = await Promise.all([import("/sw-src/queue-store.mjs"),
        import("/sw-src/replay.mjs"), import("/sw-src/clock.mjs"), import("/static/js/offline-judge.mjs")]);
      offline.modules = { queue, replay, skew, judge };
      offline.store = new queue.QueueStore();
      offline.clock = skew.ClockSkew.fromJSON(await offline.store.getMeta("clock"));
    } catch (e) {
      // no IndexedDB or modules: the station works online only, as before
      offline.modules = null;
      offline.store = null;
    }
  }

  async function start() {
    await loadModules();
    const loaded = await loadData();
    if (loaded.refused || !config) {
      // a device switched off meanwhile gets the server's own words for it
      $("station-error").textContent = (loaded.refused && loaded.refused.message) || T.config_failed;
      $("station-error").hidden = false;
      return;
    }
    renderModes();
    focusInput();
    showConnection();
    // the list of queued scans opens offline too (the service worker serves it from this cache)
    if (loaded.fresh && window.caches) window.caches.open("linli-station").then((c) => c.add("/station/queue")).catch(() => {});
    await refreshCount();
    // scans the server recorded a week ago are of no more use on the device (nothing else is ever deleted)
    if (offline.store) offline.store.prune({ olderThanDays: 7 }).catch(() => {});
    replayNow(false);
    window.setInterval(() => { if (navigator.onLine !== false) loadData(); }, REFRESH_MS);
  }

  window.addEventListener("online", () => { showConnection(); replayNow(true); });
  window.addEventListener("offline", showConnection);
  if (navigator.serviceWorker) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "linli:queue") refreshCount();
    });
  }

  resultBox.setAttribute("data-idle", resultBox.textContent.trim());
  start();
  if (saved.camera !== "off") startCamera();
})();
