// Claims a building lead filed for a resident without a smartphone wait for the resident to confirm them. After
// any scan of their card (accepted or refused) the station asks them here, in a large panel below the result:
// "楼栋长 X 代您申报了 …，是否属实？" — Yes / Not mine. station.js announces each result with the
// `linli:scan-result` event; this script needs nothing else from it. Online only: the answer must reach the server
// while the resident is still at the counter. Every word comes translated from the server's answer.
(function () {
  "use strict";
  const root = document.getElementById("station");
  if (!root) return;
  let panel = null;
  let card = null;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function close() {
    if (panel) panel.remove();
    panel = null;
  }

  function place(node) {
    close();
    panel = node;
    const result = document.getElementById("result");
    result.parentNode.insertBefore(panel, result.nextSibling);
  }

  async function answer(claim, yes, row, words) {
    row.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    const status = row.querySelector("[data-role=status]");
    let response = null;
    let body = null;
    try {
      response = await fetch("/api/v1/claims/" + claim.id + (yes ? "/confirm" : "/deny"), {
        method: "POST", credentials: "same-origin", body: JSON.stringify({ card: card }),
        headers: { "Content-Type": "application/json", Accept: "application/json" } });
      body = await response.json().catch(() => null);
    } catch (e) {
      response = null;
    }
    if (response && response.ok && body) {
      status.textContent = body.message;
      row.querySelector(".claim-confirm-buttons").remove();
      row.setAttribute("data-answered", yes ? "confirmed" : "disputed");
    } else {
      status.textContent = (body && body.message) || words.failed;
      row.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    }
  }

  function render(claims, words) {
    const box = el("section", { class: "card station-claims", id: "station-claims", role: "region",
      "aria-labelledby": "station-claims-title", "data-testid": "station-claims" });
    box.append(el("h2", { id: "station-claims-title", class: "station-claims-title" }, words.title));
    claims.forEach((claim) => {
      const row = el("div", { class: "station-claim", "data-testid": "station-claim", "data-claim": String(claim.id) });
      const question = el("p", { class: "station-claim-question", id: "station-claim-" + claim.id }, claim.question);
      const buttons = el("div", { class: "btn-row claim-confirm-buttons" });
      const yes = el("button", { type: "button", class: "btn btn-primary btn-lg",
        "aria-describedby": "station-claim-" + claim.id }, words.confirm);
      const no = el("button", { type: "button", class: "btn btn-danger btn-lg",
        "aria-describedby": "station-claim-" + claim.id }, words.deny);
      yes.addEventListener("click", () => answer(claim, true, row, words));
      no.addEventListener("click", () => answer(claim, false, row, words));
      buttons.append(yes, no);
      row.append(question, buttons, el("p", { class: "station-claim-status", "data-role": "status", role: "status" }));
      box.append(row);
    });
    const done = el("button", { type: "button", class: "btn btn-secondary btn-lg" }, words.close);
    done.addEventListener("click", close);
    box.append(el("div", { class: "btn-row" }));
    box.lastChild.append(done);
    place(box);
  }

  document.addEventListener("linli:scan-result", async (event) => {
    const result = event.detail || {};
    close();
    if (!result.card_number || !navigator.onLine) return;
    card = result.card_number;
    const asked = card;
    try {
      const response = await fetch("/api/v1/claims/awaiting?card=" + encodeURIComponent(card), {
        credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const body = await response.json();
      // a newer card may have been scanned meanwhile: only the latest one's claims are shown
      if (asked !== card || !body.claims || !body.claims.length) return;
      render(body.claims, body.words);
    } catch (e) {
      // no connection: the resident is asked at their next scan
    }
  });
})();
