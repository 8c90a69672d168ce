// The assist page: polls the round's state and draws it; sends hints and "go".
// Every text from the server (the model's answers, people's hints) is set with textContent,
// never parsed as HTML.
"use strict";

const POLL_MS = 500;
const NAME_KEY = "geoagent.assist.name";

const $ = (id) => document.getElementById(id);
let shown = { version: -1, round: -1, answers: -1, hints: -1, past: -1 };
let windowEnds = null;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function coords(a) {
  return `${a.lat.toFixed(4)}, ${a.lon.toFixed(4)}`;
}

const PHASES = {
  starting: "The game is starting…",
  thinking: "The model is looking at the views…",
  waiting: "The model answered: add a hint or a correction, or press Go.",
  revising: "The model is revising with your hints…",
  placing: "Placing the guess…",
  scored: "Round scored.",
  finished: "The match is over.",
};

function drawViews(s) {
  const box = $("views");
  box.replaceChildren();
  s.views.forEach((v, k) => {
    const f = el("figure");
    const img = el("img");
    img.src = v.url;
    img.alt = `view ${k + 1}` + (v.heading === null ? "" : `, heading ${Math.round(v.heading)}°`);
    f.append(img, el("figcaption", img.alt));
    box.append(f);
  });
}

function drawAnswers(s) {
  const box = $("answers");
  box.replaceChildren();
  for (const a of s.answers) {
    const d = el("div", null, a.placed ? "answer placed" : "answer");
    d.dataset.revision = a.revision;
    const title = a.placed ? "Guess placed" : a.revision === 0 ? "First answer" : `Revised answer ${a.revision}`;
    const head = el("p");
    head.append(el("b", title + ": "), el("span", coords(a), "coords"));
    const extra = [];
    if (a.country) extra.push(a.country);
    if (a.confidence !== null && a.confidence !== undefined) extra.push(`confidence ${a.confidence.toFixed(2)}`);
    if (a.source !== "model") extra.push(a.source);
    if (extra.length) head.append(el("span", ` (${extra.join(", ")})`));
    d.append(head);
    if (a.rationale) d.append(el("p", a.rationale, "rationale"));
    if (a.reasoning && !a.placed) {
      const det = el("details");
      det.append(el("summary", "The model's reasoning"), el("pre", a.reasoning));
      d.append(det);
    }
    box.append(d);
  }
}

function drawHints(s) {
  const ul = $("hints");
  ul.replaceChildren();
  for (const h of s.hints) {
    const li = el("li");
    li.append(el("span", h.text, "text"), el("span", ` — ${h.by}, ${new Date(h.at).toLocaleTimeString()}`, "by"));
    ul.append(li);
  }
}

function drawPast(s) {
  const tb = $("past").querySelector("tbody");
  tb.replaceChildren();
  for (const p of s.past) {
    const tr = el("tr");
    tr.append(el("td", p.round), el("td", p.points), el("td", `${p.distance_km.toFixed(1)} km`), el("td", p.hints));
    tb.append(tr);
  }
}

function draw(s) {
  document.body.dataset.phase = s.phase;
  document.body.dataset.round = s.round;
  let status = PHASES[s.phase] || s.phase;
  if (s.round > 0) status = `Round ${s.round} of ${s.rounds} · ${s.map} · ${status}`;
  $("status").textContent = status;
  if (s.round !== shown.round) {
    drawViews(s);
    shown.round = s.round;
  }
  drawAnswers(s);
  drawHints(s);
  drawPast(s);
  const r = $("result");
  r.replaceChildren();
  if (s.result) r.append(el("p", `Round ${s.result.round}: ${s.result.points} points, ${s.result.distance_km.toFixed(1)} km from the spot.`));
  $("hint-send").disabled = !s.accepts_hints;
  $("go").disabled = s.phase !== "waiting" && s.phase !== "thinking" && s.phase !== "revising";
  windowEnds = s.window_left_ms === null ? null : Date.now() + s.window_left_ms;
}

function tick() {
  const c = $("countdown");
  c.textContent = windowEnds === null ? "" : `${Math.max(0, Math.ceil((windowEnds - Date.now()) / 1000))} s left`;
}

async function poll() {
  try {
    const r = await fetch("state", { cache: "no-store" });
    if (!r.ok) throw new Error(`state: HTTP ${r.status}`);
    const s = await r.json();
    if (s.version !== shown.version) {
      draw(s);
      shown.version = s.version;
    }
  } catch (e) {
    $("status").textContent = `Lost the game (${e.message}); retrying…`;
  }
  setTimeout(poll, POLL_MS);
}

async function post(path, body) {
  const r = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  if (!r.ok) {
    // The server refuses a body this large before it reads the hint: say why in the same words.
    let msg = r.status === 413 ? "too long: a hint has at most 1000 characters" : `HTTP ${r.status}`;
    try { msg = (await r.json()).error || msg; } catch (_) { /* not JSON */ }
    throw new Error(msg);
  }
}

$("hint-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("hint-text").value.trim();
  if (!text) return;
  const by = $("hint-by").value.trim();
  try { localStorage.setItem(NAME_KEY, by); } catch (_) { /* private mode */ }
  $("hint-error").textContent = "";
  try {
    await post("hints", { text, by });
    $("hint-text").value = "";
  } catch (e) {
    $("hint-error").textContent = e.message;
  }
});

$("go").addEventListener("click", async () => {
  try { await post("go"); } catch (e) { $("hint-error").textContent = e.message; }
});

try { $("hint-by").value = localStorage.getItem(NAME_KEY) || ""; } catch (_) { /* private mode */ }
setInterval(tick, 250);
poll();
