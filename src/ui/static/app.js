// Peregrine dashboard: plain browser JavaScript, no dependencies, no build step.
// Data: GET /api/alerts (backlog), GET /api/stream (server-sent events: new alerts and a
// status every 2 s), GET /api/dead-letters and POST /api/dead-letters/replay.
"use strict";

const PRIORITIES = ["Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"];
const ROW_H = 34;
const OVERSCAN = 8;
/** Alerts the page keeps; past it the oldest tenth is forgotten (the router keeps 10,000). */
const MAX_ALERTS = 50000;
const FRESH_MS = 1600;
/** Dead letters listed per output (the store lists oldest first). */
const DLQ_SHOWN = 20;

/**
 * With ingest auth on, the token comes in the fragment (/ui#token=...): a fragment never
 * reaches the server or a proxy's log. It is kept for this tab and taken out of the address bar.
 */
const token = (() => {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (m) {
    const t = decodeURIComponent(m[1]);
    try {
      sessionStorage.setItem("peregrine-token", t);
    } catch {
      // storage off: the token lives as long as the page
    }
    history.replaceState(null, "", location.pathname + location.search);
    return t;
  }
  try {
    return sessionStorage.getItem("peregrine-token");
  } catch {
    return null;
  }
})();
const css = getComputedStyle(document.documentElement);
const COLOR = Object.fromEntries(PRIORITIES.map((p) => [p, css.getPropertyValue(`--p-${p}`).trim() || "#888"]));
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- helpers

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "style") e.style.cssText = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
  }
  for (const c of children) if (c !== undefined && c !== null && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (token) headers.authorization = "Bearer " + token;
  const res = await fetch(path, { ...options, headers });
  const text = await res.text();
  let body;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { error: { message: text } };
  }
  if (!res.ok) throw new Error((body.error && body.error.message) || `${res.status} ${res.statusText}`);
  return body;
}

const nf = new Intl.NumberFormat("en-US");
function fmtNum(n) {
  if (n >= 1e6) return (n / 1e6).toFixed(n >= 1e7 ? 0 : 1) + "M";
  if (n >= 1e5) return Math.round(n / 1e3) + "k";
  return nf.format(n);
}
function fmtRate(r) {
  return r >= 100 ? Math.round(r) + "/s" : r >= 10 ? r.toFixed(0) + "/s" : r.toFixed(1) + "/s";
}
function pad(n, w = 2) {
  return String(n).padStart(w, "0");
}
function fmtTime(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
function fmtAgo(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return s + "s ago";
  if (s < 3600) return Math.round(s / 60) + "m ago";
  if (s < 86400) return Math.round(s / 3600) + "h ago";
  return Math.round(s / 86400) + "d ago";
}
/** Falco times carry nanoseconds; Date.parse wants at most milliseconds. */
function parseTime(t) {
  const ms = Date.parse(String(t).replace(/(\.\d{3})\d+/, "$1"));
  return Number.isFinite(ms) ? ms : Date.now();
}

let toastTimer;
function toast(message, isError = false) {
  const t = $("toast");
  t.textContent = message;
  t.classList.toggle("error", isError);
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 3500);
}

// ---------------------------------------------------------------- state

const state = {
  /** Every alert kept, oldest first. */
  all: [],
  seen: new Set(),
  /** The alerts that pass the filters, oldest first; the list shows it newest first. */
  view: [],
  counts: Object.fromEntries(PRIORITIES.map((p) => [p, 0])),
  sources: new Set(),
  rules: new Set(),
  hosts: new Set(),
  filters: { priorities: new Set(), text: "", rule: "", source: "", host: "", tags: [] },
  paused: false,
  held: [],
  selected: null,
  status: null,
  statusTotal: 0,
  dlqCounts: "",
  /** The picked time range in ms (history), or 0 for the live feed. */
  range: 0,
};

function prepare(a, live) {
  a._ms = parseTime(a.time);
  // Only alerts that arrive while the page is open flash; the backlog does not.
  a._arrived = live ? performance.now() : -Infinity;
  return a;
}

function searchText(a) {
  if (a._s === undefined) {
    let fields = "";
    try {
      fields = JSON.stringify(a.output_fields || {});
    } catch {
      /* cyclic cannot come from JSON */
    }
    a._s = `${a.rule}\n${a.output}\n${a.hostname}\n${a.source}\n${(a.tags || []).join(" ")}\n${a.uuid}\n${fields}`.toLowerCase();
  }
  return a._s;
}

function matcher() {
  const f = state.filters;
  const text = f.text.trim().toLowerCase();
  const rule = f.rule.trim().toLowerCase();
  const host = f.host.trim().toLowerCase();
  const tags = f.tags;
  const pri = f.priorities;
  const source = f.source;
  if (!text && !rule && !host && !tags.length && !pri.size && !source) return null;
  return (a) =>
    (pri.size === 0 || pri.has(a.priority)) &&
    (!source || a.source === source) &&
    (!rule || a.rule.toLowerCase().includes(rule)) &&
    (!host || String(a.hostname).toLowerCase().includes(host)) &&
    (!tags.length || tags.every((t) => (a.tags || []).some((x) => x.toLowerCase() === t))) &&
    (!text || searchText(a).includes(text));
}
let match = null;

function refilter() {
  match = matcher();
  state.view = match ? state.all.filter(match) : state.all.slice();
  $("viewport").scrollTop = 0;
  updateFeedCount();
  scheduleRender(true);
}

/** Adds alerts (oldest first); returns how many were new. */
function ingest(alerts, live) {
  let added = 0;
  const newRules = [];
  for (const raw of alerts) {
    if (!raw || state.seen.has(raw.uuid)) continue;
    const a = prepare(raw, live);
    state.seen.add(a.uuid);
    state.all.push(a);
    state.counts[a.priority] = (state.counts[a.priority] || 0) + 1;
    if (!state.sources.has(a.source)) {
      state.sources.add(a.source);
      $("f-source").append(el("option", { value: a.source, text: a.source }));
    }
    if (!state.rules.has(a.rule) && state.rules.size < 2000) {
      state.rules.add(a.rule);
      newRules.push(a.rule);
    }
    if (!state.hosts.has(a.hostname) && state.hosts.size < 2000) {
      state.hosts.add(a.hostname);
      $("hosts-list").append(el("option", { value: a.hostname }));
    }
    if (!match || match(a)) state.view.push(a);
    added++;
  }
  for (const r of newRules) $("rules-list").append(el("option", { value: r }));
  if (state.all.length > MAX_ALERTS) trim();
  return added;
}

function trim() {
  const drop = state.all.length - Math.floor(MAX_ALERTS * 0.9);
  const gone = state.all.splice(0, drop);
  for (const a of gone) {
    state.seen.delete(a.uuid);
    state.counts[a.priority]--;
    a._gone = true;
  }
  state.view = state.view.filter((a) => !a._gone);
}

function receive(alerts, live = true) {
  if (state.paused && live) {
    state.held.push(...alerts);
    $("pause").textContent = `Resume (${fmtNum(state.held.length)} new)`;
    return;
  }
  const vp = $("viewport");
  const before = state.view.length;
  const added = ingest(alerts, live);
  if (added === 0) return;
  // Keep what the reader is looking at in place when they scrolled down.
  const grew = state.view.length - before;
  // Grow the list first, or the scroll adjustment below is clamped to the old height.
  $("spacer").style.height = state.view.length * ROW_H + "px";
  // The header total moves with the feed; the next status (every 2 s) corrects it.
  if (live && state.status) $("k-total").textContent = fmtNum((state.statusTotal += added));
  if (vp.scrollTop > 0 && grew > 0) vp.scrollTop += grew * ROW_H;
  updateChips();
  updateFeedCount();
  scheduleRender(false);
}

// ---------------------------------------------------------------- virtual list

const pool = [];
let renderQueued = false;
let forceContent = false;

function scheduleRender(force) {
  forceContent = forceContent || force;
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(render);
}

function makeRow() {
  const row = el("div", { class: "row", role: "row" });
  row.t = el("span", { class: "t mono" });
  row.p = el("span", { class: "p" }, (row.badge = el("span", { class: "badge" })));
  row.r = el("span", { class: "r" });
  row.o = el("span", { class: "o" });
  row.h = el("span", { class: "h" });
  row.append(row.t, row.p, row.r, row.o, row.h);
  row.addEventListener("click", () => row.alert && openDrawer(row.alert));
  return row;
}

// Falco's output starts with "<time>: <Priority> ", which the row shows in columns of its own.
const OUTPUT_PREFIX =
  /^(?:\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?): (?:Emergency|Alert|Critical|Error|Warning|Notice|Informational|Info|Debug) /i;

function fill(row, a) {
  row.alert = a;
  row.t.textContent = fmtTime(a._ms);
  row.t.title = a.time;
  row.badge.textContent = a.priority;
  row.badge.style.background = COLOR[a.priority];
  row.style.borderLeftColor = COLOR[a.priority];
  row.r.textContent = a.rule;
  row.r.title = a.rule;
  row.o.textContent = a.output.replace(OUTPUT_PREFIX, "");
  row.h.textContent = a.hostname;
  row.h.title = `${a.hostname} · ${a.source}`;
  row.dataset.priority = a.priority;
  row.dataset.uuid = a.uuid;
  const fresh = performance.now() - a._arrived < FRESH_MS;
  row.classList.toggle("fresh", fresh);
}

function render() {
  renderQueued = false;
  const vp = $("viewport");
  const n = state.view.length;
  $("spacer").style.height = n * ROW_H + "px";
  $("empty").hidden = n > 0;
  if (n === 0) $("empty").innerHTML = state.all.length ? "No alert matches the filters." : 'Waiting for alerts…<br><span class="muted">POST Falco JSON to <code>/</code></span>';
  const top = vp.scrollTop;
  const height = vp.clientHeight || 600;
  const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
  const last = Math.min(n, Math.ceil((top + height) / ROW_H) + OVERSCAN);
  const count = Math.max(0, last - first);
  while (pool.length < count) {
    const r = makeRow();
    pool.push(r);
    vp.append(r);
  }
  for (let i = 0; i < pool.length; i++) {
    const row = pool[i];
    if (i >= count) {
      if (!row.hidden) row.hidden = true;
      row.alert = null;
      continue;
    }
    const index = first + i;
    const a = state.view[n - 1 - index];
    row.hidden = false;
    if (forceContent || row.alert !== a) fill(row, a);
    row.style.transform = `translateY(${index * ROW_H}px)`;
    row.classList.toggle("sel", state.selected === a);
  }
  forceContent = false;
}

function updateFeedCount() {
  const shown = state.view.length;
  const total = state.all.length;
  $("feed-count").textContent = shown === total ? `${fmtNum(total)} alerts` : `${fmtNum(shown)} of ${fmtNum(total)} alerts`;
}

// ---------------------------------------------------------------- filters

function buildChips() {
  const box = $("f-priority");
  for (const p of PRIORITIES) {
    const chip = el(
      "button",
      { type: "button", class: "chip", "aria-pressed": "false", "data-priority": p, title: `Show ${p} alerts (click again to clear)` },
      el("span", { class: "sw", style: `background:${COLOR[p]}` }),
      p,
      el("span", { class: "n", text: "0" }),
    );
    chip.addEventListener("click", () => {
      const set = state.filters.priorities;
      if (set.has(p)) set.delete(p);
      else set.add(p);
      chip.setAttribute("aria-pressed", String(set.has(p)));
      box.classList.toggle("some", set.size > 0);
      refilter();
    });
    box.append(chip);
  }
}

function updateChips() {
  for (const chip of $("f-priority").children) chip.lastChild.textContent = fmtNum(state.counts[chip.dataset.priority] || 0);
}

function debounce(fn, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

function wireFilters() {
  const f = state.filters;
  const apply = debounce(refilter, 120);
  $("f-text").addEventListener("input", (e) => ((f.text = e.target.value), apply()));
  $("f-rule").addEventListener("input", (e) => ((f.rule = e.target.value), apply()));
  $("f-host").addEventListener("input", (e) => ((f.host = e.target.value), apply()));
  $("f-source").addEventListener("change", (e) => ((f.source = e.target.value), refilter()));
  $("f-tags").addEventListener("input", (e) => {
    f.tags = e.target.value.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean);
    apply();
  });
  $("f-clear").addEventListener("click", clearFilters);
  $("pause").addEventListener("click", togglePause);
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && document.activeElement?.tagName !== "INPUT") {
      e.preventDefault();
      $("f-text").focus();
    } else if (e.key === "Escape") closeDrawer();
  });
  $("viewport").addEventListener("scroll", () => scheduleRender(false), { passive: true });
  window.addEventListener("resize", () => {
    scheduleRender(false);
    drawChart();
  });
}

function clearFilters() {
  Object.assign(state.filters, { priorities: new Set(), text: "", rule: "", source: "", host: "", tags: [] });
  for (const id of ["f-text", "f-rule", "f-host", "f-tags", "f-source"]) $(id).value = "";
  for (const chip of $("f-priority").children) chip.setAttribute("aria-pressed", "false");
  $("f-priority").classList.remove("some");
  refilter();
}

function setFilter(key, value) {
  const input = { rule: "f-rule", host: "f-host", tags: "f-tags" }[key];
  $(input).value = value;
  state.filters[key] = key === "tags" ? [value.toLowerCase()] : value;
  refilter();
}

function togglePause() {
  state.paused = !state.paused;
  const btn = $("pause");
  if (state.paused) {
    btn.textContent = "Resume";
    btn.classList.add("primary");
  } else {
    btn.textContent = "Pause";
    btn.classList.remove("primary");
    const held = state.held;
    state.held = [];
    receive(held);
  }
}

// ---------------------------------------------------------------- detail drawer

function openDrawer(a) {
  state.selected = a;
  const badge = $("d-priority");
  badge.textContent = a.priority;
  badge.style.background = COLOR[a.priority];
  $("d-rule").textContent = a.rule;
  const body = $("d-body");
  body.replaceChildren();
  body.append(el("div", { class: "out-text" }, a.output));
  const meta = el("dl", { class: "kv" });
  const add = (k, v, onclick) => meta.append(el("dt", { text: k }), el("dd", onclick ? { class: "link" } : null, v));
  add("time", a.time);
  add("hostname", a.hostname);
  add("source", a.source);
  add("uuid", el("span", { class: "mono", text: a.uuid }));
  body.append(meta);
  if (a.tags && a.tags.length) {
    body.append(
      el("div", null, el("div", { class: "section-title", text: "Tags" }), el("div", { class: "tags" }, ...a.tags.map((t) => el("span", { class: "tag", text: t, title: "Filter by this tag", onclick: () => setFilter("tags", t) })))),
    );
  }
  const fields = Object.entries(a.output_fields || {});
  if (fields.length) {
    const kv = el("dl", { class: "kv" });
    for (const [k, v] of fields) kv.append(el("dt", { class: "mono", text: k, title: k }), el("dd", { class: "mono", text: typeof v === "string" ? v : JSON.stringify(v) }));
    body.append(el("div", null, el("div", { class: "section-title", text: "Output fields" }), kv));
  }
  if (a.custom_fields && Object.keys(a.custom_fields).length) {
    const kv = el("dl", { class: "kv" });
    for (const [k, v] of Object.entries(a.custom_fields)) kv.append(el("dt", { class: "mono", text: k }), el("dd", { class: "mono", text: typeof v === "string" ? v : JSON.stringify(v) }));
    body.append(el("div", null, el("div", { class: "section-title", text: "Custom fields" }), kv));
  }
  const clean = Object.fromEntries(Object.entries(a).filter(([k]) => !k.startsWith("_")));
  body.append(el("div", null, el("div", { class: "section-title", text: "JSON" }), el("pre", { class: "raw mono", text: JSON.stringify(clean, null, 2) })));
  $("drawer").hidden = false;
  scheduleRender(false);
}

function closeDrawer() {
  $("drawer").hidden = true;
  state.selected = null;
  scheduleRender(false);
}

// ---------------------------------------------------------------- chart

let chartBuckets = [];
let chartGeom = null;

function drawChart() {
  const canvas = $("chart");
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (!w || !h) return;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const bottom = 18;
  const top = 6;
  const buckets = chartBuckets;
  let max = 0;
  for (const b of buckets) {
    let sum = 0;
    for (const p of PRIORITIES) sum += b.counts[p] || 0;
    if (sum > max) max = sum;
  }
  // Whole-number gridlines: a 1-2-5 step, four or five lines.
  const step = niceStep(Math.max(max, 4) / 4);
  const lines = Math.max(1, Math.ceil(Math.max(max, 4) / step));
  const niceMax = lines * step;
  ctx.font = "10.5px 'DejaVu Sans', sans-serif";
  let labelW = 0;
  for (let i = 0; i <= lines; i++) labelW = Math.max(labelW, ctx.measureText(fmtNum(step * i)).width);
  const left = Math.ceil(labelW) + 10;
  const plotW = w - left - 4;
  const plotH = h - bottom - top;
  ctx.fillStyle = "#8591a5";
  ctx.strokeStyle = "#222b38";
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let i = 0; i <= lines; i++) {
    const y = Math.round(top + plotH - (plotH * i) / lines) + 0.5;
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(w - 4, y);
    ctx.stroke();
    ctx.fillText(fmtNum(step * i), left - 6, y);
  }
  const n = buckets.length || 90;
  const slot = plotW / n;
  const barW = Math.max(1, slot - (slot > 4 ? 1.5 : 0.5));
  buckets.forEach((b, i) => {
    let y = top + plotH;
    const x = left + i * slot;
    for (let p = PRIORITIES.length - 1; p >= 0; p--) {
      const c = b.counts[PRIORITIES[p]] || 0;
      if (!c) continue;
      const bh = (c / niceMax) * plotH;
      ctx.fillStyle = COLOR[PRIORITIES[p]];
      ctx.fillRect(x, y - bh, barW, bh);
      y -= bh;
    }
  });
  ctx.fillStyle = "#8591a5";
  ctx.textBaseline = "alphabetic";
  // One label per whole span of minutes back from now, as many as fit.
  const width = buckets[1] ? buckets[1].start - buckets[0].start : 10000;
  const bucketMin = buckets.length ? 60000 / width : 6;
  const minutes = Math.round(n / bucketMin);
  const every = minutes <= 5 ? 1 : minutes <= 10 ? 2 : 5;
  const labels = [[n - 1, "now"]];
  if (width >= 60000) {
    // A range of the history: about six labels, in minutes, hours or days back.
    const step = Math.max(1, Math.ceil(n / 6));
    for (let k = step; k < n; k += step) {
      const back = k * width;
      labels.push([n - 1 - k, back >= 172800000 ? `-${Math.round(back / 86400000)}d` : back >= 7200000 ? `-${Math.round(back / 3600000)}h` : `-${Math.round(back / 60000)}m`]);
    }
  } else
    for (let m = every; m <= minutes; m += every) {
      const i = n - 1 - m * bucketMin;
      if (i >= 0 && left + i * slot > left + 18) labels.push([i, `-${m}m`]);
    }
  for (const [i, text] of labels) {
    ctx.textAlign = i === n - 1 ? "right" : "center";
    const x = i === n - 1 ? left + plotW : left + i * slot;
    ctx.fillText(text, x, h - 4);
  }
  chartGeom = { left, slot, plotW };
}

function niceStep(v) {
  if (v <= 1) return 1;
  const exp = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * exp >= v) return m * exp;
  return 10 * exp;
}

function wireChartTip() {
  const canvas = $("chart");
  const tip = $("chart-tip");
  canvas.addEventListener("mousemove", (e) => {
    if (!chartGeom || !chartBuckets.length) return;
    const x = e.offsetX - chartGeom.left;
    const i = Math.floor(x / chartGeom.slot);
    const b = chartBuckets[i];
    if (!b || x < 0) return void (tip.hidden = true);
    const total = PRIORITIES.reduce((s, p) => s + (b.counts[p] || 0), 0);
    if (total === 0) return void (tip.hidden = true);
    tip.replaceChildren(el("div", null, el("b", { text: fmtTime(b.start).slice(0, 8) }), el("span", { text: `${fmtNum(total)} alerts` })));
    for (const p of PRIORITIES) if (b.counts[p]) tip.append(el("div", null, el("span", { style: `color:${COLOR[p]}`, text: p }), el("span", { text: fmtNum(b.counts[p]) })));
    tip.hidden = false;
    const tx = Math.min(e.offsetX + 12, canvas.clientWidth - tip.offsetWidth - 2);
    tip.style.left = Math.max(0, tx) + "px";
  });
  canvas.addEventListener("mouseleave", () => (tip.hidden = true));
}

function buildLegend() {
  $("legend").replaceChildren(...PRIORITIES.map((p) => el("span", null, el("i", { style: `background:${COLOR[p]}` }), p)));
}

// ---------------------------------------------------------------- status panels

function applyStatus(s) {
  state.status = s;
  if (!state.range) applyStats(s.stats);
  renderOutputs(s.outputs);
  renderDetector(s.detector);
  // The response engine runs as the router's "response" lane: its card shows while it exists.
  const lane = s.outputs.find((o) => o.name === "response" && o.type === "response");
  $("response-card").hidden = !lane;
  if (lane) {
    const key = `${lane.delivered}:${lane.dead_letters}:${lane.queue_depth}:${Math.floor(Date.now() / 10000)}`;
    if (key !== state.responseKey) {
      state.responseKey = key;
      void loadResponse();
    }
  }
  const dlqKey = s.outputs.map((o) => `${o.name}:${o.dead_letters}`).join(",");
  if (dlqKey !== state.dlqCounts) {
    state.dlqCounts = dlqKey;
    void loadDeadLetters();
  }
}

/** The chart, the header counts and the top rules, from the live counters or a range of the history. */
function applyStats(stats) {
  if (stats.from !== undefined) {
    chartBuckets = stats.buckets;
    const span = stats.to - stats.from;
    $("chart-span").textContent = `last ${span >= 86400000 ? Math.round(span / 86400000) + " d" : Math.round(span / 3600000) + " h"} · ${Math.round(stats.bucket_ms / 60000)} min bars`;
    drawChart();
    state.statusTotal = stats.total;
    $("k-total").textContent = fmtNum(stats.total);
    const bp = stats.by_priority;
    $("k-critical").textContent = fmtNum((bp.Emergency || 0) + (bp.Alert || 0) + (bp.Critical || 0));
    renderTopRules(stats.top_rules);
    return;
  }
  // Zoom to where the data starts (5 minutes at least, 15 at most), so a fresh start
  // does not show one thin bar at the right edge.
  const first = stats.buckets.findIndex((b) => Object.keys(b.counts).length > 0);
  const shown = first < 0 ? 30 : Math.min(stats.buckets.length, Math.max(30, stats.buckets.length - first + 2));
  chartBuckets = stats.buckets.slice(-shown);
  $("chart-span").textContent = `last ${Math.round((shown * stats.bucket_ms) / 60000)} min · ${stats.bucket_ms / 1000} s bars`;
  drawChart();
  state.statusTotal = stats.total;
  $("k-total").textContent = fmtNum(stats.total);
  const lastMinute = stats.buckets.slice(-6).reduce((sum, b) => sum + Object.values(b.counts).reduce((x, y) => x + y, 0), 0);
  $("k-rate").textContent = fmtNum(lastMinute);
  const bp = stats.by_priority;
  $("k-critical").textContent = fmtNum((bp.Emergency || 0) + (bp.Alert || 0) + (bp.Critical || 0));
  renderTopRules(stats.top_rules);
}

function renderTopRules(rules) {
  const list = $("top-rules");
  if (!rules.length) return list.replaceChildren(el("li", { class: "muted none", text: "No alerts yet" }));
  const max = rules[0].count;
  list.replaceChildren(
    ...rules.map((r) =>
      el(
        "li",
        { title: `${r.rule}\n${nf.format(r.count)} alerts, last ${fmtAgo(r.last)} — click to filter`, onclick: () => setFilter("rule", r.rule) },
        el("span", { class: "bar", style: `width:${Math.max(2, (r.count / max) * 100)}%;background:${COLOR[r.priority]}` }),
        el("span", { class: "sw", style: `background:${COLOR[r.priority]}` }),
        el("span", { class: "name", text: r.rule }),
        el("span", { class: "cnt", text: fmtNum(r.count) }),
      ),
    ),
  );
}

const STATE_LABEL = { healthy: "healthy", retrying: "retrying", circuit_open: "circuit open", half_open: "half-open", stopped: "stopped" };

function renderOutputs(outputs) {
  const box = $("outputs");
  const healthy = outputs.filter((o) => o.state === "healthy").length;
  const k = $("k-outputs");
  k.textContent = outputs.length ? `${healthy}/${outputs.length}` : "–";
  k.className = "v " + (outputs.length && healthy === outputs.length ? "good" : outputs.length ? "bad" : "");
  const dlq = outputs.reduce((n, o) => n + o.dead_letters, 0);
  $("k-dlq").textContent = fmtNum(dlq);
  $("k-dlq").className = "v" + (dlq ? " bad" : "");
  if (!outputs.length) return box.replaceChildren(el("p", { class: "muted none", text: "No outputs configured." }));
  box.replaceChildren(
    ...outputs.map((o) => {
      const card = el(
        "div",
        { class: "out", "data-output": o.name, "data-state": o.state },
        el("div", { class: "out-head" }, el("span", { class: "out-name", text: o.name }), el("span", { class: "out-type", text: o.type }), el("span", { class: "grow" }), el("span", { class: `state ${o.state}`, text: STATE_LABEL[o.state] || o.state })),
        el(
          "div",
          { class: "out-stats" },
          stat(fmtNum(o.queue_depth), "queue"),
          stat(fmtRate(o.delivery_rate), "delivery"),
          stat(fmtNum(o.delivered), "delivered"),
          stat(fmtNum(o.dead_letters), "dead"),
        ),
      );
      if (o.last_error) card.append(el("div", { class: o.state === "healthy" ? "out-err past" : "out-err", title: o.last_error.reason, text: `${fmtAgo(Date.parse(o.last_error.at))}: ${o.last_error.reason}` }));
      return card;
    }),
  );
}

function stat(value, label) {
  return el("div", null, el("b", { text: value }), el("span", { text: label }));
}

function renderDetector(d) {
  const card = $("detector-card");
  if (!d) return void (card.hidden = true);
  card.hidden = false;
  $("detector-state").textContent = d.state || "";
  const drops = Object.entries(d.drops || {});
  const dropTotal = drops.reduce((n, [, v]) => n + v, 0);
  const box = $("detector");
  box.replaceChildren(
    stat(fmtNum(d.rules_loaded), "rules loaded"),
    stat(d.events_per_second >= 100 ? fmtNum(Math.round(d.events_per_second)) : d.events_per_second.toFixed(1), "events / s"),
    stat(fmtNum(dropTotal), "drops"),
  );
  if (d.events_total !== undefined || d.alerts_total !== undefined)
    box.append(
      el(
        "div",
        { class: "drops" },
        `${fmtNum(d.events_total || 0)} events evaluated · ${fmtNum(d.alerts_total || 0)} alerts` +
          (d.filtered_total ? ` · ${fmtNum(d.filtered_total)} left in the kernel (no rule can match)` : ""),
      ),
    );
  if (drops.length) box.append(el("div", { class: "drops" }, "drops: " + drops.map(([k, v]) => `${k} ${fmtNum(v)}`).join(" · ")));
}

// ---------------------------------------------------------------- response actions

const RESPONSE_SHOWN = 12;

async function loadResponse() {
  let res;
  try {
    res = await api(`/api/response?limit=${RESPONSE_SHOWN}`);
  } catch (err) {
    return toast(`response: ${err.message}`, true);
  }
  const counts = Object.entries(res.counts || {});
  $("response-counts").textContent = counts.map(([k, v]) => `${fmtNum(v)} ${k.replace("_", " ")}`).join(" · ");
  const list = $("response");
  if (!res.actions.length) return list.replaceChildren(el("li", { class: "muted none", text: "No action yet." }));
  list.replaceChildren(
    ...res.actions.map((a) =>
      el(
        "li",
        { "data-status": a.status, title: `${a.message}\nalert ${a.alert_uuid} (${a.alert_rule})` },
        el("span", { class: "what" }, el("span", { class: `rstatus ${a.status}`, text: a.status.replace("_", " ") }), `${a.actionner} ${a.target ? a.target.description : ""}`),
        el("span", { class: "why", text: `${a.rule} · ${a.action} · ${fmtAgo(a.finished_at || a.started_at || a.created_at)}${a.status === "done" || a.status === "started" ? "" : ` · ${a.message}`}` }),
      ),
    ),
  );
}

// ---------------------------------------------------------------- dead letters

async function loadDeadLetters() {
  let res;
  try {
    res = await api("/api/dead-letters?limit=200");
  } catch (err) {
    return toast(`dead letters: ${err.message}`, true);
  }
  const byOutput = new Map();
  for (const d of res.dead_letters) {
    if (!byOutput.has(d.output)) byOutput.set(d.output, []);
    byOutput.get(d.output).push(d);
  }
  const counts = new Map((state.status?.outputs || []).map((o) => [o.name, o.dead_letters]));
  for (const name of counts.keys()) if (counts.get(name) > 0 && !byOutput.has(name)) byOutput.set(name, []);
  const box = $("dlq");
  $("dlq-total").textContent = res.total ? `${fmtNum(res.total)} in store` : "";
  if (byOutput.size === 0) return box.replaceChildren(el("p", { class: "muted none", text: "Nothing dead-lettered." }));
  box.replaceChildren(
    ...[...byOutput.entries()].map(([name, items]) => {
      const n = counts.get(name) ?? items.length;
      const btn = el("button", { type: "button", class: "btn primary replay", "data-output": name, text: "Replay" });
      btn.addEventListener("click", () => replay(name, btn));
      return el(
        "div",
        { class: "dlq-group", "data-output": name },
        el("div", { class: "dlq-head" }, el("b", { text: name }), el("span", { class: "cnt", text: `${fmtNum(n)} dead` }), el("span", { class: "grow" }), btn),
        el(
          "ul",
          { class: "dlq-items" },
          ...items.slice(0, DLQ_SHOWN).map((d) =>
            el(
              "li",
              { title: d.reason },
              el("span", { class: "what" }, el("span", { class: "badge", style: `background:${COLOR[d.alert.priority]};margin-right:6px`, text: d.alert.priority }), d.alert.rule),
              el("span", { class: "why", text: `${d.status && !d.reason.startsWith("HTTP") ? `HTTP ${d.status} · ` : ""}${d.reason} · ${d.attempts} attempt${d.attempts === 1 ? "" : "s"} · ${fmtAgo(d.failedAt)}` }),
            ),
          ),
          n > DLQ_SHOWN ? el("li", { class: "muted more", text: `… and ${fmtNum(n - DLQ_SHOWN)} more (oldest shown first)` }) : null,
        ),
      );
    }),
  );
}

async function replay(output, btn) {
  btn.disabled = true;
  try {
    const res = await api("/api/dead-letters/replay", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ output }),
    });
    toast(`Replayed ${fmtNum(res.replayed)} alert${res.replayed === 1 ? "" : "s"} to ${output}`);
    state.dlqCounts = "";
    await refreshStatus();
  } catch (err) {
    toast(`Replay failed: ${err.message}`, true);
  } finally {
    btn.disabled = false;
  }
}

async function refreshStatus() {
  try {
    applyStatus(await api("/api/status"));
  } catch (err) {
    toast(err.message, true);
  }
}

// ---------------------------------------------------------------- live stream

function connect() {
  const conn = $("conn");
  const setConn = (s, text) => {
    conn.dataset.state = s;
    $("conn-text").textContent = text;
  };
  let backlogLoaded = false;
  let opened = false;
  let early = [];
  const onOpen = () => {
    setConn("live", "live");
    if (!opened) {
      opened = true;
      // The backlog is read once the stream is open, so no alert falls in between;
      // alerts in both are skipped by uuid.
      void loadBacklog(10000).then(() => {
        backlogLoaded = true;
        receive(early);
        early = [];
      });
    } else if (backlogLoaded) {
      // After a reconnect, fetch what the router saw meanwhile.
      void loadBacklog(1000);
    }
  };
  const handlers = {
    alert(data) {
      const alerts = JSON.parse(data);
      if (state.range) return;
      if (backlogLoaded) receive(alerts);
      else early.push(...alerts);
    },
    status(data) {
      applyStatus(JSON.parse(data));
    },
    dropped(data) {
      const { count } = JSON.parse(data);
      toast(`Alert storm: ${fmtNum(count)} alerts were not streamed live; they are in the journal and the outputs`);
    },
  };
  // Server-sent events read with fetch, not EventSource: EventSource cannot send the token
  // in a header, and a token in the URL lands in proxies' logs.
  let retryMs = 2000;
  const run = async () => {
    for (;;) {
      try {
        const res = await fetch("/api/stream", { headers: token ? { authorization: "Bearer " + token } : {}, cache: "no-store" });
        if (res.status === 401) {
          setConn("down", "unauthorized: open /ui#token=YOUR_TOKEN");
          return;
        }
        if (!res.ok || !res.body) throw new Error(`${res.status}`);
        onOpen();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end;
          while ((end = buf.indexOf("\n\n")) >= 0) {
            const frame = buf.slice(0, end);
            buf = buf.slice(end + 2);
            let event = "message";
            let data = "";
            for (const line of frame.split("\n")) {
              if (line.startsWith("event: ")) event = line.slice(7);
              else if (line.startsWith("data: ")) data += line.slice(6);
              else if (line.startsWith("retry: ")) retryMs = Number(line.slice(7)) || retryMs;
            }
            if (data && Object.hasOwn(handlers, event)) handlers[event](data);
          }
        }
      } catch {
        // network error or stream cut: reconnect below
      }
      setConn("connecting", "reconnecting");
      await new Promise((r) => setTimeout(r, retryMs));
    }
  };
  void run();
}

async function loadBacklog(limit) {
  try {
    const res = await api(`/api/alerts?limit=${limit}`);
    receive(res.alerts, false);
  } catch (err) {
    toast(`alerts: ${err.message}`, true);
  }
}

// ---------------------------------------------------------------- time range

/** Empties the list, for a switch between the live feed and a range of the history. */
function resetFeed() {
  state.all = [];
  state.view = [];
  state.seen.clear();
  state.held = [];
  for (const p of PRIORITIES) state.counts[p] = 0;
  $("spacer").style.height = "0px";
  updateChips();
  updateFeedCount();
  scheduleRender(true);
}

/** Reads the picked range from the history: its newest alerts and its counts. */
async function loadRange() {
  const range = state.range;
  const to = Date.now();
  // From a whole minute: the router answers such a range from its per-minute counts.
  const from = Math.floor((to - range) / 60000) * 60000;
  try {
    const [alerts, stats] = await Promise.all([api(`/api/alerts?from=${from}&to=${to}&limit=10000`), api(`/api/stats?from=${from}&to=${to}`)]);
    if (state.range !== range) return;
    resetFeed();
    receive(alerts.alerts, false);
    applyStats(stats);
  } catch (err) {
    toast(`history: ${err.message}`, true);
  }
}

function wireRange() {
  $("range").addEventListener("change", () => {
    state.range = Number($("range").value) || 0;
    if (state.range) void loadRange();
    else {
      resetFeed();
      void loadBacklog(10000);
      if (state.status) applyStats(state.status.stats);
    }
  });
  // A range ends now: keep it current.
  setInterval(() => {
    if (state.range) void loadRange();
  }, 30000);
}

// ---------------------------------------------------------------- start

buildChips();
buildLegend();
wireFilters();
wireChartTip();
wireRange();
$("d-close").addEventListener("click", closeDrawer);
drawChart();
scheduleRender(true);
connect();
setInterval(() => {
  if (state.status) renderOutputs(state.status.outputs);
}, 10000);

// For tests and curious operators: how many row elements exist (the list is virtualised).
window.peregrine = { state, rowCount: () => pool.filter((r) => !r.hidden).length };
