// Challenger dashboard: plain JS over the registry's REST API; charts are inline SVG.
"use strict";

const state = { selected: null, sample: null, queue: [], lastEvent: 0, token: null, user: null, rules: null,
                actionsKey: null };
const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const fmt = (x, d = 3) => (x === null || x === undefined ? "–" : Number(x).toFixed(d));

async function getJSON(path) {
  const resp = await fetch(path);
  if (!resp.ok) throw new Error(`${path}: ${resp.status}`);
  return resp.json();
}

// A call with the signed-in token; a refusal throws the registry's own words.
async function send(method, path, body) {
  const resp = await fetch(path, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${state.token}` },
  });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(`${resp.status}: ${detailText(data.detail) || resp.statusText}`);
  return data;
}

function detailText(detail) {
  if (!Array.isArray(detail)) return detail;
  return detail.map((e) => (e.field ? `${e.field}: ${e.reason ?? e.msg}` : e.reason ?? JSON.stringify(e))).join("; ");
}

// ---------- candidates ----------
async function refreshCandidates() {
  const rows = await getJSON("/api/v1/candidates");
  const body = $("#candidates tbody");
  body.innerHTML = rows.map((c) => `<tr data-id="${esc(c.id)}" class="${c.id === state.selected ? "selected" : ""}">
      <td>${esc(c.name)}${c.parent_id ? ' <span class="pill">derived</span>' : ""}</td>
      <td>${esc(c.task)}</td><td class="stage-${esc(c.stage)}">${esc(c.stage)}</td></tr>`).join("");
  body.querySelectorAll("tr").forEach((tr) => tr.addEventListener("click", () => select(tr.dataset.id)));
  if (!state.selected && state.sample === null && rows.length) select(rows[0].id);
}

async function select(id) {
  if (id !== state.selected) $("#action-result").textContent = "";
  state.selected = id;
  state.sample = null;
  state.actionsKey = null;
  markSelected();
  await refreshDetail();
}

function markSelected() {
  document.querySelectorAll("#candidates tbody tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.id === state.selected));
  document.querySelectorAll("#queue tbody tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.id === String(state.sample)));
}

// ---------- scorecard ----------
async function refreshDetail() {
  const id = state.selected;
  if (state.sample !== null || !id) return;  // the sample view is drawn once, on select, to keep what is typed
  const card = await getJSON(`/api/v1/candidates/${id}/scorecard`);
  const samples = await getJSON(`/api/v1/samples?candidate_id=${id}`).catch(() => []);
  const searches = await configSearches(id);
  if (state.sample !== null || state.selected !== id) return;  // another selection came while we read
  const c = card.candidate;
  $("#detail-title").innerHTML = `${esc(c.name)} <span class="pill stage-${esc(c.stage)}">${esc(c.stage)}</span>
    ${card.is_champion ? '<span class="pill ok">champion</span>' : ""}
    ${c.stage === "standby" ? '<span class="pill stage-standby" title="the previous champion: the route\'s fallback target, still deployable">fallback</span>' : ""}`;
  renderActions(c);
  $("#detail-body").innerHTML = [
    summaryBlock(card), accuracyBlock(latestWith(card, "accuracy")), stabilityBlock(card), securityBlock(card), garakBlock(card),
    latencyBlock(card.loadtest), configSearchBlock(searches), promptBlock(card.prompt_optimization), timelineBlock(card),
    canaryBlock(card.canary_steps), degradationBlock(card.degradations, samples),
  ].join("");
}

function payload(record) { return record ? record.payload || {} : null; }

// The latest evaluation that carries `key`. Each run measures only its kinds: the dev run has
// accuracy, stability and security; the later staging run has E2E and security, no stability.
function latestWith(card, key) {
  const runs = (card.evaluations || []).filter((e) => {
    const v = payload(e)[key];
    return Array.isArray(v) ? v.length > 0 : v !== null && v !== undefined;
  });
  return runs.length ? runs[runs.length - 1] : null;
}

function runLabel(record) {
  const p = payload(record);
  return `<p class="source">from the ${esc(p.stage || "dev")} evaluation ${esc(p.evaluation_id)}</p>`;
}

function summaryBlock(card) {
  const spec = card.candidate.spec || {};
  return `<div class="kv" id="summary">
    <span>id</span><span>${esc(card.candidate.id)}</span>
    <span>model</span><span>${esc(spec.model)} (${esc(spec.engine)}${spec.quantization ? ", " + esc(spec.quantization) : ""})</span>
    <span>task</span><span>${esc(card.candidate.task)}</span>
    <span>champion</span><span>${esc(card.champion_id || "none")}</span>
    <span>parent</span><span>${esc(card.candidate.parent_id || "–")}</span></div>`;
}

function accuracyBlock(evaluation) {
  const p = payload(evaluation);
  if (!p || !(p.accuracy || []).length) return `<h3>Accuracy</h3><p class="empty">no evaluation yet</p>`;
  const rows = p.accuracy;
  return `<h3>Accuracy vs champion</h3>${forestPlot(rows)}
    <table id="accuracy"><thead><tr><th>dataset</th><th>metric</th><th>n</th><th>candidate</th><th>champion</th>
    <th>Δ [95% CI]</th><th>p (Holm)</th><th>verdict</th></tr></thead><tbody>
    ${rows.map((r) => `<tr><td>${esc(r.dataset)}</td><td>${esc(r.metric)}</td><td>${r.n}</td>
      <td>${fmt(r.candidate_score)}</td><td>${fmt(r.champion_score)}</td>
      <td>${fmt(r.difference)} [${fmt(r.ci_low)}, ${fmt(r.ci_high)}]</td>
      <td>${fmt(r.p_adjusted ?? r.p_value, 4)}</td><td class="verdict-${esc(r.verdict)}">${esc(r.verdict || "–")}</td></tr>`).join("")}
    </tbody></table>${reportLink(p.report_path)}`;
}

// Difference with its CI per row, zero line in the middle.
function forestPlot(rows) {
  const w = 520, rowH = 26, h = rows.length * rowH + 30, x0 = 170, span = w - x0 - 20;
  const lim = Math.max(0.05, ...rows.flatMap((r) => [Math.abs(r.ci_low ?? 0), Math.abs(r.ci_high ?? 0), Math.abs(r.difference ?? 0)]));
  const X = (v) => x0 + span / 2 + (v / lim) * (span / 2);
  const marks = rows.map((r, i) => {
    const y = 20 + i * rowH, color = r.verdict === "better" ? "#3fb950" : r.verdict === "worse" ? "#f85149" : "#8b98a5";
    if (r.difference === null || r.difference === undefined) return `<text x="4" y="${y + 4}">${esc(r.dataset)} (no champion)</text>`;
    return `<text x="4" y="${y + 4}">${esc(r.dataset)} · ${esc(r.metric)}</text>
      <line x1="${X(r.ci_low ?? r.difference)}" x2="${X(r.ci_high ?? r.difference)}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="3"/>
      <circle cx="${X(r.difference)}" cy="${y}" r="5" fill="${color}"/>`;
  }).join("");
  return `<svg id="forest" width="${w}" height="${h}" role="img" aria-label="accuracy difference with 95% CI">
    <line class="axis" x1="${X(0)}" x2="${X(0)}" y1="6" y2="${h - 16}"/>
    <text x="${X(0) - 20}" y="${h - 2}">0 (champion)</text>
    <text x="${x0}" y="${h - 2}">−${fmt(lim, 2)}</text><text x="${w - 50}" y="${h - 2}">+${fmt(lim, 2)}</text>${marks}</svg>`;
}

function stabilityBlock(card) {
  if (!(card.evaluations || []).length) return "";
  const run = latestWith(card, "stability");
  if (!run) return `<h3>Stability</h3><p class="empty">no stability run</p>`;
  const s = payload(run).stability;
  return `<h3>Stability</h3><div class="kv" id="stability"><span>repeats</span><span>${s.repeats}</span>
      <span>seeds</span><span>${esc(s.seeding || "-")}</span>
      <span>mean agreement</span><span>${fmt(s.mean_agreement)}</span>
      <span>exact-match consistency</span><span>${fmt(s.exact_match_consistency)}</span>
      <span>Fleiss' kappa</span><span>${fmt(s.fleiss_kappa)}</span>
      <span>accuracy spread</span><span>${fmt(s.accuracy_spread)}</span>
      <span>flipping items</span><span>${(s.flipping_items || []).length}</span></div>${runLabel(run)}`;
}

function securityBlock(card) {
  if (!(card.evaluations || []).length) return "";
  const run = latestWith(card, "security");
  if (!run) return `<h3>Security (red team)</h3><p class="empty">no red-team run</p>`;
  const sec = payload(run).security;
  return `<h3>Security (red team)</h3>${barChart("security", Object.entries(sec.by_category || {}), 1, "attack success rate")}
    <p>overall attack success rate: <b>${fmt(sec.attack_success_rate)}</b> over ${sec.attacks} attacks</p>${runLabel(run)}`;
}

function garakBlock(card) {
  const run = latestWith(card, "garak");
  if (!run) return "";
  const g = payload(run).garak;
  const families = Object.entries(g.families || {}).map(([f, r]) => [`${f} (${r.attempts} answers)`, r.attack_success_rate]);
  return `<h3>garak probes</h3>${barChart("garak", families, 1, "garak attack success rate per probe family")}
    <p>garak ${esc(g.garak_version || "")}: ${esc((g.probes || []).join(", "))}</p>${runLabel(run)}`;
}

function barChart(id, pairs, max, label) {
  const w = 520, rowH = 20, h = pairs.length * rowH + 20, x0 = 190, span = w - x0 - 50;
  const bars = pairs.map(([k, v], i) => {
    const y = 6 + i * rowH, color = v > 0.2 ? "#f85149" : v > 0 ? "#d29922" : "#3fb950";
    return `<text x="4" y="${y + 12}">${esc(k)}</text><rect x="${x0}" y="${y}" height="14" width="${Math.max(1, (v / max) * span)}" fill="${color}"/>
      <text x="${x0 + Math.max(1, (v / max) * span) + 4}" y="${y + 12}">${fmt(v, 2)}</text>`;
  }).join("");
  return `<svg id="${id}" width="${w}" height="${h}" role="img" aria-label="${esc(label)}">${bars}</svg>`;
}

function latencyBlock(loadtest) {
  const p = payload(loadtest);
  if (!p || !(p.levels || []).length) return `<h3>Latency & cost</h3><p class="empty">no load test yet</p>`;
  const levels = [...p.levels].sort((a, b) => a.level - b.level);
  const p95 = (pct) => (pct ? pct.p95 : null);
  const pts = levels.map((l) => ({ x: l.output_tokens_per_s, y: p95(l.ttft_ms), y2: p95(l.e2e_ms), level: l.level,
                                   failed: `${l.errors} of ${l.requests} requests failed` }));
  const cost = p.cost ? `<div class="kv" id="cost"><span>$ / 1M tokens</span><span>${fmt(p.cost.usd_per_1m_tokens, 4)}</span>
      <span>$ / request</span><span>${fmt(p.cost.usd_per_request, 6)}</span>
      <span>monthly</span><span>${p.cost.monthly_usd === null ? "–" : "$" + fmt(p.cost.monthly_usd, 0)}</span>
      <span>Δ vs champion ($/1M)</span><span>${fmt(p.cost.delta_usd_per_1m_tokens, 4)}</span>
      <span>Δ monthly vs champion</span><span>${p.cost.delta_monthly_usd == null ? "–" : "$" + fmt(p.cost.delta_monthly_usd, 0)}</span>
      <span>traffic</span><span id="traffic">${p.traffic ? `${fmt(p.traffic.requests_per_month, 0)} requests/month × ${fmt(p.traffic.input_tokens, 0)} in / ${fmt(p.traffic.output_tokens, 0)} out tokens, from ${esc(p.traffic.source)}` : "–"}</span></div>` : "";
  return `<h3>Latency–throughput</h3>${lineChart(pts)}${levelTable(levels)}${cost}${reportLink(p.report_path)}`;
}

// Every level is drawn: its p95 TTFT and E2E at its throughput, labelled with the level; a
// level with no successful request has no latency, and is marked on the axis instead.
function lineChart(pts) {
  const w = 520, h = 220, m = 40;
  const xs = pts.map((p) => p.x), ys = pts.flatMap((p) => [p.y, p.y2]).filter((v) => v !== null);
  const xmax = Math.max(1, ...xs), ymax = Math.max(1, ...ys);
  const X = (v) => m + (v / xmax) * (w - 2 * m), Y = (v) => h - m + 10 - (v / ymax) * (h - 2 * m);
  const path = (key) => pts.filter((p) => p[key] !== null).map((p, i) => `${i ? "L" : "M"}${X(p.x)},${Y(p[key])}`).join(" ");
  const mark = (p) => {
    if (p.y === null && p.y2 === null) {
      return `<g class="level failed" data-level="${p.level}"><path d="M${X(p.x) - 5},${Y(0) - 5}l10,10m0,-10l-10,10" stroke="#f85149"
        stroke-width="2"/><text x="${X(p.x) + 7}" y="${Y(0) - 6}">${p.level}</text><title>level ${p.level}: no latency, ${esc(p.failed)}</title></g>`;
    }
    const at = p.y !== null ? p.y : p.y2;
    return `<g class="level" data-level="${p.level}"><title>level ${p.level}</title>
      ${p.y === null ? "" : `<circle cx="${X(p.x)}" cy="${Y(p.y)}" r="4" fill="#58a6ff"/>`}
      ${p.y2 === null ? "" : `<rect x="${X(p.x) - 3}" y="${Y(p.y2) - 3}" width="6" height="6" fill="#d29922"/>`}
      <text x="${X(p.x) + 6}" y="${Y(at) - 6}">${p.level}</text></g>`;
  };
  return `<svg id="latency" width="${w}" height="${h}" role="img" aria-label="p95 latency against output tokens per second, per load level">
    <line class="axis" x1="${m}" y1="${h - m + 10}" x2="${w - m}" y2="${h - m + 10}"/><line class="axis" x1="${m}" y1="10" x2="${m}" y2="${h - m + 10}"/>
    <path d="${path("y")}" stroke="#58a6ff" fill="none" stroke-width="2"/><path d="${path("y2")}" stroke="#d29922" fill="none" stroke-width="2" stroke-dasharray="4 3"/>${pts.map(mark).join("")}
    <text x="${w / 2 - 60}" y="${h - 4}">output tokens/s (max ${fmt(xmax, 1)})</text>
    <text x="2" y="10">ms (max ${fmt(ymax, 0)})</text>
    <text x="${w - 150}" y="24" fill="#58a6ff">— p95 TTFT</text><text x="${w - 150}" y="38">- - p95 E2E</text></svg>`;
}

function levelTable(levels) {
  const notes = (l) => [l.client_bound ? "client-bound" : "",
    ...Object.entries(l.errors_by_type || {}).map(([k, n]) => `${n}× ${k}`)].filter(Boolean).join(", ");
  return `<table id="levels"><thead><tr><th>level</th><th>requests</th><th>errors</th><th>output tok/s</th>
    <th>p95 TTFT ms</th><th>p95 E2E ms</th><th>goodput rps</th><th></th></tr></thead><tbody>
    ${levels.map((l) => `<tr data-level="${l.level}"><td>${l.level}</td><td>${l.requests}</td>
      <td class="${l.errors ? "fail" : ""}">${l.errors}</td><td>${fmt(l.output_tokens_per_s, 1)}</td>
      <td>${fmt(l.ttft_ms && l.ttft_ms.p95, 0)}</td><td>${fmt(l.e2e_ms && l.e2e_ms.p95, 0)}</td>
      <td>${fmt(l.goodput_rps, 2)}</td><td>${esc(notes(l))}</td></tr>`).join("")}</tbody></table>`;
}

// ---------- configuration searches (the frontier chart is the registry's SVG, the report's own) ----------
async function configSearches(id) {
  const searches = await getJSON(`/api/v1/candidates/${id}/config-searches`).catch(() => []);
  const charts = await Promise.all(searches.map((s) => (s.status === "completed"
    ? fetch(`/api/v1/config-searches/${encodeURIComponent(s.run_id)}/frontier.svg`).then((r) => (r.ok ? r.text() : ""))
    : "")));
  return searches.map((s, i) => ({ ...s, chart: charts[i] }));
}

function configSearchBlock(searches) {
  if (!searches.length) return "";
  return `<h3>Configuration search</h3>${searches.map((s) => {
    const marks = (v) => [["recommended", v.recommended], ["frontier", v.frontier], ["finalist", v.finalist]]
      .filter(([, on]) => on).map(([m]) => m).join(" ");
    const rows = [...(s.variants || [])].sort((a, b) => b.n - a.n || b.accuracy - a.accuracy);
    const table = rows.length ? `<table class="config-search" id="config-search-${esc(s.run_id)}"><thead><tr><th>variant</th>
      <th>config</th><th>n</th><th>accuracy [95% CI]</th><th>stability</th><th>p95 ms</th><th>${esc(s.cost_unit)}</th><th></th>
      <th>candidate</th></tr></thead><tbody>${rows.map((v) => `<tr class="${v.recommended ? "ok" : ""}"><td>${esc(v.variant)}</td>
      <td>${esc(v.label)}</td><td>${v.n}</td><td>${fmt(v.accuracy)} [${fmt(v.ci_low)}, ${fmt(v.ci_high)}]</td>
      <td>${fmt(v.stability)}</td><td>${fmt(v.p95_ms, 0)}</td><td>${fmt(v.cost, 4)}</td><td>${marks(v)}</td>
      <td>${esc(v.candidate_id || v.registration_error || "–")}</td></tr>`).join("")}</tbody></table>` : "";
    return `<div class="kv"><span>run</span><span>${esc(s.run_id)} (${esc(s.status)})</span>
      <span>recommended</span><span>${esc(s.recommended_variant || "–")}</span><span>reason</span><span>${esc(s.reason)}</span></div>
      ${s.chart || ""}${table}${reportLink(s.report_path)}`;
  }).join("")}`;
}

function promptBlock(po) {
  const p = payload(po);
  if (!p) return "";
  return `<h3>Prompt optimization</h3><div class="kv" id="prompt-opt"><span>accepted</span><span class="${p.accepted ? "ok" : "warn"}">${p.accepted}</span>
    <span>held-out before → after</span><span>${fmt(p.baseline_score)} → ${fmt(p.best_score)}</span>
    <span>p-value</span><span>${fmt(p.p_value, 4)}</span><span>reason</span><span>${esc(p.reason)}</span></div>${reportLink(p.report_path)}`;
}

function timelineBlock(card) {
  const rows = card.stage_history || [];
  return `<h3>Pipeline timeline</h3><ol id="timeline">${rows.map((h) => `<li><span class="t">${esc(h.at || h.created_at || "")}</span>
    ${esc(h.from_stage || "∅")} → <b class="stage-${esc(h.to_stage)}">${esc(h.to_stage)}</b> by ${esc(h.actor)} ${h.reason ? "— " + esc(h.reason) : ""}${policyNote(h.policy)}</li>`).join("")}</ol>`;
}

// the policy section and values a gate judged this move with
function policyNote(policy) {
  if (!policy) return "";
  const own = (policy.overridden || []).map((k) => { const [dim, key] = k.split("."); return `${k}=${JSON.stringify((policy.values[dim] || {})[key])}`; });
  const all = Object.entries(policy.values || {}).flatMap(([dim, vals]) => Object.entries(vals).map(([k, v]) => `${dim}.${k}=${JSON.stringify(v)}`));
  return `<details class="policy"><summary>policy <b>${esc(policy.section)}</b>${own.length ? ": " + esc(own.join(", ")) : ""}</summary>${esc(all.join(", "))}</details>`;
}

function canaryBlock(steps) {
  if (!steps || !steps.length) return `<h3>Canary</h3><p class="empty">no canary yet</p>`;
  const w = 520, h = 140, m = 30, n = steps.length;
  const X = (i) => m + (i / Math.max(1, n - 1)) * (w - 2 * m), Y = (v) => h - m - (v / 100) * (h - 2 * m);
  const colors = { advance: "#3fb950", promote: "#3fb950", hold: "#d29922", inconclusive: "#8b98a5", rollback: "#f85149" };
  const pts = steps.map((s, i) => ({ x: X(i), y: Y(payload(s).weight_pct || 0), d: payload(s).decision, r: payload(s).reason }));
  return `<h3>Canary progress</h3><svg id="canary" width="${w}" height="${h}" role="img" aria-label="canary weight per step">
    <line class="axis" x1="${m}" y1="${h - m}" x2="${w - m}" y2="${h - m}"/>
    <path d="${pts.map((p, i) => `${i ? "L" : "M"}${p.x},${p.y}`).join(" ")}" stroke="#58a6ff" fill="none"/>
    ${pts.map((p) => `<circle cx="${p.x}" cy="${p.y}" r="5" fill="${colors[p.d] || "#58a6ff"}"><title>${esc(p.d)}: ${esc(p.r)}</title></circle>`).join("")}
    <text x="2" y="${Y(100) + 4}">100%</text><text x="2" y="${h - m}">0%</text></svg>
    <ol>${steps.map((s) => `<li>${fmt(payload(s).weight_pct, 0)}% — <b>${esc(payload(s).decision)}</b>: ${esc(payload(s).reason)}</li>`).join("")}</ol>`;
}

function degradationBlock(degradations, samples) {
  const d = (degradations || []).map((r) => payload(r));
  const list = d.length ? `<ul id="degradations">${d.map((p) => `<li class="fail">${esc((p.rules || []).join(", "))} on ${esc(p.route)}
      ${reportLink(p.report_path, "drift report")}</li>`).join("")}</ul>` : `<p class="empty">no degradation</p>`;
  const rows = (samples || []).slice(0, 20);
  const table = rows.length ? `<table id="samples"><thead><tr><th>prompt</th><th>response</th><th>reason</th></tr></thead><tbody>
      ${rows.map((s) => `<tr><td>${esc(s.prompt).slice(0, 120)}</td><td>${esc(s.response).slice(0, 120)}</td><td>${esc(s.reason)}</td></tr>`).join("")}
      </tbody></table>` : `<p class="empty">no captured samples</p>`;
  return `<h3>Drift & degradations</h3>${list}<h3>Captured samples (${(samples || []).length})</h3>${table}`;
}

function reportLink(path, label = "full report") {
  if (!path) return "";
  const i = path.indexOf("/reports/");
  return i < 0 ? "" : `<p><a href="${esc(path.slice(i))}" target="_blank">${label}</a></p>`;
}

// ---------- the labelling queue (GET /api/v1/labelling/queue; labels by POST .../samples/{id}) ----------
async function refreshQueue() {
  state.queue = await getJSON("/api/v1/labelling/queue");
  $("#queue-count").textContent = `(${state.queue.length})`;
  const body = $("#queue tbody");
  body.innerHTML = state.queue.map((q) => `<tr data-id="${q.id}"><td>${q.id}</td><td>${esc(q.task)}</td>
      <td>${esc(q.prompt.slice(0, 60))}</td></tr>`).join("");
  body.querySelectorAll("tr").forEach((tr) => tr.addEventListener("click", () => selectSample(Number(tr.dataset.id))));
  markSelected();
}

function selectSample(id) {
  const item = state.queue.find((q) => q.id === id);
  if (!item) return;
  if (id !== state.sample) $("#action-result").textContent = "";
  state.sample = id;
  state.selected = null;
  state.actionsKey = null;
  markSelected();
  renderSample(item);
}

function renderSample(q) {
  $("#detail-title").innerHTML = `Sample ${q.id} <span class="pill warn">awaiting a label</span>`;
  $("#actions").innerHTML = can("submit") ? `<form id="label-form">
      <input id="label-value" placeholder="the right answer (JSON when a number, list or object)" aria-label="label">
      <div class="buttons"><button type="submit" data-action="label">Label</button>
      <button type="button" data-action="skip">Skip (no usable test)</button></div></form>`
    : `<p class="empty">sign in with a submitter, operator or admin token to label</p>`;
  $("#detail-body").innerHTML = `<div class="kv" id="sample"><span>task</span><span>${esc(q.task)}</span>
      <span>route</span><span>${esc(q.route)}</span><span>candidate</span><span>${esc(q.candidate_id)}</span>
      <span>labelling job</span><span>${esc(q.job_id)}</span><span>captured because</span><span>${esc(q.reason)}</span>
      <span>at</span><span>${esc(q.at)}</span></div>
    <h3>Prompt</h3><pre id="sample-prompt">${esc(q.prompt)}</pre>
    <h3>The answer it got</h3><pre id="sample-response">${esc(q.response) || '<span class="empty">(empty)</span>'}</pre>`;
  const form = $("#label-form");
  if (!form) return;
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    label(q.id, { expected: labelValue($("#label-value").value) });
  });
  form.querySelector("[data-action=skip]").addEventListener("click", () => label(q.id, { skip: true }));
}

// As the CLI reads a typed label: JSON when it parses as a number, list or object, else the text.
function labelValue(text) {
  try {
    const v = JSON.parse(text);
    return typeof v === "number" || (typeof v === "object" && v !== null) ? v : text;
  } catch {
    return text;
  }
}

async function label(id, body) {
  const out = $("#action-result");
  try {
    const done = await send("POST", `/api/v1/labelling/samples/${id}`, body);
    out.className = "ok";
    out.textContent = `sample ${id}: ${done.label_status} by ${done.labelled_by}`
      + (done.label_status === "labelled" ? ` as ${JSON.stringify(done.expected)}` : "");
    $("#actions").innerHTML = "";
  } catch (err) {
    out.className = "fail";
    out.textContent = `label refused (${err.message})`;
  }
  await refreshQueue();
}

// ---------- sign-in and actions ----------
// The page acts as the token's holder, through the same REST endpoints as the CLI; the buttons
// shown per role and stage come from the registry (/dashboard/actions.json), and whatever the
// registry refuses is shown in its own words.
const TOKEN_KEY = "challenger-token";

async function signIn(token) {
  state.token = token;
  try {
    state.user = await send("GET", "/api/v1/me");
    sessionStorage.setItem(TOKEN_KEY, token);
    $("#signin-error").textContent = "";
  } catch (err) {
    forget();
    $("#signin-error").textContent = `sign-in refused: ${err.message}`;
  }
  showUser();
}

function forget() {
  state.token = null; state.user = null; state.actionsKey = null;
  sessionStorage.removeItem(TOKEN_KEY);
}

function showUser() {
  $("#signin").hidden = !!state.user;
  $("#user").hidden = !state.user;
  $("#whoami").textContent = state.user ? `${state.user.name} (${state.user.role})` : "";
  state.actionsKey = null;
  const sample = state.queue.find((q) => q.id === state.sample);
  if (sample) renderSample(sample); else refreshDetail();
}

function can(action) {
  return !!state.user && !!state.rules && (state.rules.permissions[state.user.role] || []).includes(action);
}

function shownButtons(stage) {
  if (!state.user || !state.rules) return [];
  return (state.rules.shown[state.user.role] || {})[stage] || [];
}

function renderActions(c) {
  const names = shownButtons(c.stage);
  const key = `${c.id}|${c.stage}|${names.join(",")}`;
  if (key === state.actionsKey) return;  // keep what is being typed across live refreshes
  state.actionsKey = key;
  const box = $("#actions");
  // a re-render for the same candidate (a stage change, a sign-in, a racing refresh) keeps the typed text
  const typed = state.actionsFor === c.id ? ($("#action-text")?.value ?? "") : "";
  state.actionsFor = c.id;
  box.innerHTML = names.length ? `<textarea id="action-text" rows="2"
      placeholder="comment or reason (kept in the stage history)"></textarea>
    <div class="buttons">${names.map((n) => `<button type="button" data-action="${esc(n)}">${esc(state.rules.buttons[n].label)}</button>`).join("")}</div>` : "";
  box.querySelectorAll("button").forEach((b) => b.addEventListener("click", () => act(c.id, b.dataset.action)));
  if (typed && $("#action-text")) $("#action-text").value = typed;
}

async function act(id, name) {
  const button = state.rules.buttons[name];
  const text = $("#action-text").value.trim() || `${name} from the dashboard`;
  const body = { [button.text]: text, ...(button.endpoint === "transition" ? { to_stage: button.to_stage } : {}) };
  const out = $("#action-result");
  const buttons = [...$("#actions").querySelectorAll("button")];
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const res = await send("POST", `/api/v1/candidates/${encodeURIComponent(id)}/${button.endpoint}`, body);
    out.className = "ok";
    out.textContent = `${button.label}: done by ${state.user.name}; stage is now ${res.stage}`;
  } catch (err) {
    out.className = "fail";
    out.textContent = `${button.label} refused (${err.message})`;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });  // a new stage re-renders them anyway
  }
  await refreshCandidates();
  await refreshDetail();
}

async function startSession() {
  state.rules = await getJSON("/dashboard/actions.json");
  $("#signin").addEventListener("submit", (e) => {
    e.preventDefault();
    signIn($("#token").value.trim());
    $("#token").value = "";
  });
  $("#signout").addEventListener("click", () => { forget(); showUser(); });
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) await signIn(saved);
}

// ---------- live events ----------
async function refreshEvents() {
  const events = await getJSON(`/api/v1/events/recent?after=${state.lastEvent}`);
  if (!events.length) return false;
  state.lastEvent = events[events.length - 1].seq;
  const list = $("#events");
  for (const e of events) {
    const li = document.createElement("li");
    const fields = Object.entries(e.fields).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" ");
    li.innerHTML = `<span class="t">${esc(e.time.slice(11, 19))}</span> <span class="ty">${esc(e.type)}</span> ${esc(e.subject || "")}<br>${esc(fields)}`;
    list.prepend(li);
  }
  while (list.children.length > 300) list.lastChild.remove();
  return true;
}

async function tick() {
  try {
    const changed = await refreshEvents();
    await refreshCandidates();
    await refreshQueue();
    if (changed) await refreshDetail();
    $("#conn").textContent = "live"; $("#conn").className = "pill ok";
  } catch (err) {
    $("#conn").textContent = "disconnected"; $("#conn").className = "pill fail";
  }
}

startSession().then(tick).then(refreshDetail);
setInterval(tick, 2000);
