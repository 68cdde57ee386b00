// GroupPush operator page: one shell, four views, JSON from /ui/api (no framework, no CDN).
"use strict";
const BASE = "/ui";
const main = document.getElementById("main");

function el(tag, attrs, ...kids) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined) continue;
    node.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return node;
}

function fmt(v, digits) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return digits === undefined ? v.toLocaleString() : v.toFixed(digits);
  return String(v);
}

function table(headers, rows, attrs) {
  return el("table", attrs || {},
    el("thead", {}, el("tr", {}, headers.map(h => el("th", { class: h.num ? "num" : null }, h.label || h)))),
    el("tbody", {}, rows));
}

async function api(path) {
  const res = await fetch(BASE + "/api" + path, { credentials: "same-origin" });
  let body = null;
  try { body = await res.json(); } catch (e) { body = { error: res.statusText }; }
  if (res.status === 401) { window.location.href = BASE + "/login"; throw new Error("API key needed"); }
  if (!res.ok) throw new Error((body && body.error) || ("HTTP " + res.status));
  return body;
}

function show(...nodes) { main.replaceChildren(...nodes.filter(n => n !== null && n !== undefined)); }
function fail(err) { show(el("p", { class: "error", id: "error" }, String(err.message || err))); }
function setStatus(text) { document.getElementById("status").textContent = text; }

// ---- groups table -------------------------------------------------------------------------
async function viewGroups() {
  const params = new URLSearchParams(window.location.search);
  const search = el("input", { id: "search", type: "search", placeholder: "group or store id", value: params.get("q") || "" });
  const stage = el("select", { id: "stage" }, el("option", { value: "" }, "all stages"));
  const gtype = el("select", { id: "type" }, el("option", { value: "" }, "all types"));
  const count = el("span", { class: "muted", id: "count" });
  const body = el("div", { id: "groups" });
  show(el("h1", {}, "Groups"), el("div", { class: "filters" }, search, stage, gtype, count), body);
  let first = true;
  let timer = null;
  async function load() {
    const q = new URLSearchParams({ q: search.value, stage: stage.value, type: gtype.value });
    const data = await api("/groups?" + q);
    if (first) {
      data.stages.forEach(s => stage.append(el("option", { value: s }, s)));
      data.group_types.forEach(t => gtype.append(el("option", { value: t }, t)));
      stage.value = params.get("stage") || ""; gtype.value = params.get("type") || "";
      first = false;
    }
    count.textContent = `${data.matched} of ${data.total} groups` + (data.rows.length < data.matched ? ` (first ${data.rows.length})` : "");
    const rows = data.rows.map(r => el("tr", { "data-group-id": r.group_id },
      el("td", {}, el("a", { href: `${BASE}/groups/${encodeURIComponent(r.group_id)}`, class: "group-link" }, r.group_id)),
      el("td", {}, fmt(r.store_id)), el("td", {}, fmt(r.group_type)),
      el("td", { class: "stage-" + r.stage }, r.stage),
      el("td", { class: "num" }, fmt(r.members)),
      el("td", { class: "num" }, r.active_share === null ? "—" : (100 * r.active_share).toFixed(1) + "%"),
      el("td", {}, fmt(r.last_order))));
    body.replaceChildren(
      table(["Group", "Store", "Identity type", "Stage", { label: "Members", num: 1 }, { label: "Active share (30 d)", num: 1 }, "Last order"], rows, { id: "groups-table" }),
      ...data.notes.map(n => el("p", { class: "muted" }, n)));
  }
  const reload = () => { clearTimeout(timer); timer = setTimeout(() => load().catch(fail), 150); };
  search.addEventListener("input", reload);
  stage.addEventListener("change", reload);
  gtype.addEventListener("change", reload);
  await load();
}

// ---- one group ----------------------------------------------------------------------------
function memberReasons(m) { return m.reasons.map(r => el("span", { class: "reason" }, r)); }

function pushItems(push) {
  if (!push.items.length) return el("p", { class: "muted", id: "no-items" }, "No products to push for this group today.");
  return el("div", { id: "push-list" }, push.items.map((item, i) => {
    const p = item.product || {};
    return el("div", { class: "push-item", "data-product-id": item.product_id },
      el("h2", {}, `${i + 1}. ${item.product_name ? `${item.product_name} (${item.product_id})` : item.product_id}`),
      el("p", {}, `category ${item.category_name || item.category_id}`, p.department_id ? ` · department ${p.department_id}` : "",
        p.price !== undefined && p.price !== null ? ` · price ${fmt(p.price, 2)}` : "",
        p.stock_qty !== undefined && p.stock_qty !== null ? ` · stock ${fmt(p.stock_qty)}` : "",
        ` · score ${fmt(item.score, 3)} · expected buyers ${fmt(item.expected_buyers, 2)}`),
      table(["Member", { label: "Score", num: 1 }, "Why"], item.members.map(m =>
        el("tr", { class: "push-member", "data-user-id": m.user_id },
          el("td", {}, m.user_id), el("td", { class: "num" }, fmt(m.score, 3)), el("td", {}, memberReasons(m))))));
  }));
}

async function viewGroup(groupId) {
  const data = await api("/groups/" + encodeURIComponent(groupId));
  const g = data.group, push = data.push_list;
  const parts = [
    el("h1", { id: "group-title" }, `Group ${g.group_id}`),
    el("div", { class: "cards" },
      [["Stage", g.stage], ["Identity type", g.group_type], ["Store", g.store_id], ["Members", g.members],
       ["Active share (30 d)", g.active_share === null ? null : (100 * g.active_share).toFixed(1) + "%"], ["Last order", g.last_order]]
        .map(([k, v]) => el("div", { class: "card" }, el("b", {}, fmt(v)), k))),
    el("p", { class: "muted" }, `features as of ${data.as_of} · models ${data.model_version} · top ${data.request.top_k}, ${data.request.members_per_product} members per product (the /push_lists defaults)`),
  ];
  push.warnings.forEach(w => parts.push(el("div", { class: "warning" }, w)));
  if (data.stage_history.length) {
    parts.push(el("h2", {}, "Stage history"),
      el("p", { id: "stage-history" }, data.stage_history.map(h => `${h.as_of}: ${h.stage}`).join(" → ")));
  }
  if (push.suggested_group_id || push.move_members.length) {
    parts.push(el("h2", {}, "Zombie group: move these members"),
      el("p", {}, "Suggested group: ", push.suggested_group_id
        ? el("a", { href: `${BASE}/groups/${encodeURIComponent(push.suggested_group_id)}`, id: "suggested-group" }, push.suggested_group_id) : "none of the same type and store"),
      table(["Member", { label: "Score", num: 1 }, "Why"], push.move_members.map(m =>
        el("tr", { class: "move-member", "data-user-id": m.user_id },
          el("td", {}, m.user_id), el("td", { class: "num" }, fmt(m.score, 3)), el("td", {}, memberReasons(m)))), { id: "move-table" }));
  }
  parts.push(el("h2", {}, "Push list preview"), pushItems(push));
  parts.push(el("h2", {}, `Members (${data.members_total}` + (data.members.length < data.members_total ? `, the ${data.members.length} targeted or likeliest to reorder shown)` : ")")),
    table(["Member", "Targeted", "Tags", { label: "Repurchase p", num: 1 }, { label: "Order days 30 d", num: 1 }, { label: "Pushes in window", num: 1 }],
      data.members.map(m => el("tr", {},
        el("td", {}, m.user_id), el("td", {}, m.targeted ? "yes" : ""), el("td", {}, m.tags.map(t => el("span", { class: "tag" }, t))),
        el("td", { class: "num" }, fmt(m.repurchase_prob, 3)), el("td", { class: "num" }, fmt(m.order_days_30d)), el("td", { class: "num" }, fmt(m.pushes_in_window)))),
      { id: "members-table" }));
  show(...parts);
}

// ---- models -------------------------------------------------------------------------------
function metricsTable(model, baselines, candidates) {
  const rows = [];
  if (model) rows.push(["champion", model]);
  for (const [name, m] of Object.entries(candidates || {})) rows.push([name, m]);
  for (const [name, m] of Object.entries(baselines)) rows.push([name, m]);
  if (!rows.length) return el("p", { class: "muted" }, "No held-out figures: run `grouppush evaluate`.");
  const keys = [...new Set(rows.flatMap(([, m]) => Object.keys(m).filter(k => typeof m[k] === "number")))];
  return table(["", ...keys.map(k => ({ label: k, num: 1 }))], rows.map(([name, m]) =>
    el("tr", {}, el("td", {}, el(name === "champion" ? "b" : "span", {}, name)),
      keys.map(k => el("td", { class: "num" }, typeof m[k] !== "number" ? "—" : Number.isInteger(m[k]) ? fmt(m[k]) : fmt(m[k], 4))))));
}

async function viewModels() {
  const data = await api("/models");
  const parts = [el("h1", {}, "Models"), el("p", { class: "muted" }, `serving ${data.model_version}`,
    data.holdout_snapshot ? ` · held-out snapshot ${data.holdout_snapshot} (evaluated as of ${data.evaluated_as_of})` : "")];
  for (const m of data.models) {
    const reg = m.registry;
    parts.push(el("h2", {}, `${m.kind}: version ${m.serving_version}`),
      reg ? el("p", { class: "muted" }, `${reg.name} v${reg.version}` + (reg.scorer && reg.scorer !== "learned" ? ` (baseline ${reg.scorer})` : "") + `, trained and registered ${new Date(reg.registered_ms).toISOString().slice(0, 16).replace("T", " ")} UTC` + (reg.trained_as_of ? ` on data as of ${reg.trained_as_of}` : "") + `, run ${reg.run_id}` + (reg.feature_service ? `, features ${reg.feature_service}` : "")) : null,
      previousChampion(reg),
      metricsTable(m.model, m.baselines, m.candidates));
  }
  if (data.has_report) parts.push(el("p", {}, el("a", { href: BASE + "/report" }, "Full evaluation report with plots")));
  parts.push(el("h2", {}, `Online conversion per model version (feedback, last ${data.online.window_days} days)`));
  parts.push(data.online.versions.length
    ? table(["Model version", { label: "Pushes", num: 1 }, { label: "Pushed members", num: 1 }, { label: "Pushed conversion", num: 1 },
        { label: "Unpushed members", num: 1 }, { label: "Unpushed conversion", num: 1 }, { label: "Uplift", num: 1 }],
      data.online.versions.map(v => el("tr", { class: "online-version" }, el("td", {}, v.model_version), el("td", { class: "num" }, fmt(v.pushes)),
        el("td", { class: "num" }, fmt(v.pushed_members)), el("td", { class: "num" }, pct(v.pushed_conversion)),
        el("td", { class: "num" }, fmt(v.unpushed_members)), el("td", { class: "num" }, pct(v.unpushed_conversion)),
        el("td", { class: "num" }, v.uplift === null ? "—" : (v.uplift >= 0 ? "+" : "") + (100 * v.uplift).toFixed(2) + " pts"))), { id: "online-table" })
    : el("p", { class: "muted", id: "online-empty" }, data.online.note));
  show(...parts);
}

function pct(v) { return v === null || v === undefined ? "—" : (100 * v).toFixed(2) + "%"; }

function previousChampion(reg) {
  const prev = reg && reg.previous_champion;
  if (!reg) return null;
  if (!prev) return el("p", { class: "muted previous-champion" }, "previous champion: none recorded (the first champion, or trained before train recorded it)");
  const delta = prev.delta === null ? "" : ` vs this version ${fmt(prev.champion_score, 4)} (${prev.delta >= 0 ? "+" : ""}${prev.delta.toFixed(4)})`;
  return el("p", { class: "previous-champion" }, `previous champion v${prev.version}: ${prev.metric || "score"} ${fmt(prev.score, 4)}${delta}, both on the holdout` + (prev.holdout ? ` of ${prev.holdout}` : "") + " of the training that replaced it");
}

// ---- data ---------------------------------------------------------------------------------
async function viewData() {
  const d = await api("/data");
  const parts = [el("h1", {}, "Data"),
    el("div", { class: "cards" },
      el("div", { class: "card" + (d.stale ? " error" : "") }, el("b", {}, d.features_as_of), "features as of"),
      el("div", { class: "card" }, el("b", {}, `${fmt(d.features_age_days)} days`), `age (stale after ${d.stale_after_days})`),
      el("div", { class: "card" }, el("b", {}, fmt(d.newest_order_day)), "newest order day"),
      Object.entries(d.snapshot).map(([k, v]) => el("div", { class: "card" }, el("b", {}, fmt(v)), k.replaceAll("_", " ")))),
    el("h2", {}, "Rows per feature table (latest as-of file)"),
    table(["Table", { label: "Rows", num: 1 }], Object.entries(d.feature_rows).map(([t, n]) => el("tr", {}, el("td", {}, t), el("td", { class: "num" }, fmt(n))))),
    el("h2", {}, "Ingest quarantine"),
  ];
  const q = Object.entries(d.quarantine);
  parts.push(q.length ? table(["Table", "Reason", { label: "Rows", num: 1 }], q.flatMap(([t, reasons]) =>
    Object.entries(reasons).map(([r, n]) => el("tr", {}, el("td", {}, t), el("td", {}, r), el("td", { class: "num" }, fmt(n))))))
    : el("p", { class: "muted" }, "No quarantined rows."));
  parts.push(el("h2", {}, "Segment sizes (users per tag)"),
    table(["Tag", { label: "Users", num: 1 }], d.segments.map(s => el("tr", {}, el("td", {}, el("span", { class: "tag" }, s.tag)), el("td", { class: "num" }, fmt(s.users))))));
  const ex = d.exported_segments;
  parts.push(el("h2", {}, "Personas" + (ex.exported_at ? ` (segments exported ${ex.exported_at.slice(0, 16).replace("T", " ")}, features ${ex.as_of})` : "")));
  const segRows = rows => rows.map(r => el("tr", { class: "segment-" + r.kind, "data-segment-id": r.segment_id },
    el("td", {}, r.name), el("td", { class: "num" }, fmt(r.members)), el("td", {}, r.description)));
  if (ex.note) parts.push(el("p", { class: "muted", id: "personas-empty" }, ex.note));
  else {
    parts.push(table(["Persona", { label: "Members", num: 1 }, "Description"], segRows(ex.personas), { id: "personas-table" }));
    if (ex.others.length) parts.push(el("h2", {}, "Other exported segments"),
      table(["Segment", { label: "Members", num: 1 }, "Description"], segRows(ex.others), { id: "segments-table" }));
  }
  show(...parts);
}

// ---- router -------------------------------------------------------------------------------
async function route() {
  const path = window.location.pathname.replace(/\/+$/, "");
  const rest = path.startsWith(BASE) ? path.slice(BASE.length) : path;
  const nav = rest.startsWith("/models") ? "models" : rest.startsWith("/data") ? "data" : "groups";
  document.querySelectorAll("header a").forEach(a => a.classList.toggle("active", a.dataset.nav === nav));
  try {
    if (rest.startsWith("/groups/")) await viewGroup(decodeURIComponent(rest.slice("/groups/".length)));
    else if (nav === "models") await viewModels();
    else if (nav === "data") await viewData();
    else await viewGroups();
    setStatus("loaded " + new Date().toLocaleTimeString());
  } catch (err) { fail(err); }
}
route();
