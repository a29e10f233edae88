// The hub's reference dashboard. Every figure comes from POST /graphql with the viewer's own
// token (kept in sessionStorage): the hub decides what the viewer may see, the page only shows
// it. Suppressed values arrive as `value: null, suppressed: true` and are drawn as "•" and
// hatching. No inline script or style: the page runs under a strict Content-Security-Policy.

const TOKEN_KEY = "hub.token";
const SVG_NS = "http://www.w3.org/2000/svg";
const CARE_TYPES = ["AMBULANT", "RESIDENTIAL", "CRISIS", "PROTECTION", "PROBATION", "OTHER"];
const SUPPRESSED_MARK = "•";
const MISSING_MARK = "–";

// metric: [label, format]
const METRICS = {
  YOUTH_IN_CARE: ["Youth in care", "count"],
  YOUTH_PER_1000: ["Per 1000 youth", "per1000"],
  RESIDENTIAL_SHARE: ["Residential share", "share"],
  TRAJECTORIES_STARTED: ["Inflow (started)", "count"],
  TRAJECTORIES_ENDED: ["Outflow (ended)", "count"],
  AVERAGE_DURATION_DAYS: ["Average duration", "days"],
  COST_EUR: ["Cost", "euro"],
  BUDGET_EUR: ["Budget", "euro"],
  BUDGET_UTILISATION: ["Cost / budget", "share"],
};
const GLANCE_METRICS = [
  "YOUTH_IN_CARE", "YOUTH_PER_1000", "RESIDENTIAL_SHARE", "TRAJECTORIES_STARTED",
  "TRAJECTORIES_ENDED", "AVERAGE_DURATION_DAYS", "COST_EUR", "BUDGET_EUR", "BUDGET_UTILISATION",
];
const COMPARE_METRICS = [
  "YOUTH_IN_CARE", "YOUTH_PER_1000", "RESIDENTIAL_SHARE", "TRAJECTORIES_STARTED",
  "TRAJECTORIES_ENDED", "AVERAGE_DURATION_DAYS", "COST_EUR", "BUDGET_UTILISATION",
];
const SIGNALS = {
  YOUTH_SHARE: ["Share of the region's youth in care", "share"],
  RESIDENTIAL_YOUTH: ["Youth in its residential care", "count"],
  CLAIM_REJECTION_RATE: ["Claim lines rejected", "share"],
  CLAIM_DELAY_DAYS: ["Claim delay (median)", "days"],
  WAITING_DAYS_TREND: ["Waiting (median, last 6 months)", "days"],
  MONTHS_SINCE_NEW_ASSIGNMENT: ["Months since a new assignment", "count"],
  EARLY_WARNING: ["Early warning", "status"],
  ESCALATION: ["Escalation", "status"],
};
const LOTS = {
  AMBULANT: "Ambulant", RESIDENTIAL: "Residential", CRISIS: "Crisis", HSWV: "HSWV",
  PROTECTION: "Protection", PROBATION: "Probation",
};

// Queries --------------------------------------------------------------------------------
// Only aggregate root fields (viewer, municipalities, providers, indicators, budgets,
// continuityRisks): the dashboard never asks for youth-level records.

const VALUES = "values { metric value suppressed }";
const Q_VIEWER = `query DashboardViewer {
  viewer { role municipality provider }
  municipalities { code name }
}`;
const Q_PROVIDERS = `query DashboardProviders($after: String) {
  providers(first: 500, after: $after) { nodes { agb name } pageInfo { hasNextPage endCursor } }
}`;
const Q_YEARS = `query DashboardYears {
  indicators(metrics: [YOUTH_IN_CARE], groupBy: [YEAR]) { rows { year } }
}`;
const Q_GLANCE = `query DashboardGlance($groupBy: [Dimension!]!, $filter: IndicatorFilter) {
  indicators(metrics: [${GLANCE_METRICS.join(", ")}], groupBy: $groupBy, filter: $filter) {
    rows { year quarter month ${VALUES} }
  }
}`;
const Q_COMPARE = `query DashboardMunicipalities($filter: IndicatorFilter) {
  indicators(metrics: [${COMPARE_METRICS.join(", ")}], groupBy: [MUNICIPALITY], filter: $filter) {
    rows { municipality ${VALUES} }
  }
}`;
const AMOUNT = "{ value suppressed }";
const Q_BUDGETS = `query DashboardBudgets($year: Int!, $municipality: String) {
  budgets(year: $year, municipality: $municipality) {
    municipality year lot budget committed ${AMOUNT} realised ${AMOUNT}
    released ${AMOUNT} forecast ${AMOUNT} runRateUntil
  }
}`;
const Q_RISKS = `query DashboardRisks($municipality: String) {
  continuityRisks(municipality: $municipality, first: 12) {
    provider { agb name } level impact
    signals { kind level value previous status dated suppressed evidence }
  }
}`;

class HubError extends Error {}
class SignedOut extends HubError {}

async function gql(query, variables = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) throw new SignedOut("sign in first");
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/graphql-response+json, application/json",
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch (error) {
    throw new HubError(`the hub cannot be reached (${error.message})`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    throw new HubError(`the hub answered ${response.status} without JSON`);
  }
  const message = (body?.errors ?? []).map((e) => e.message).join("; ");
  if (response.status === 401) throw new SignedOut(message || "the token was refused");
  if (message) throw new HubError(message);
  if (!response.ok || !body?.data) throw new HubError(`the hub answered ${response.status}`);
  return body.data;
}

// Formatting -----------------------------------------------------------------------------

const numberFormats = new Map();
function fixed(value, digits) {
  if (!numberFormats.has(digits)) {
    numberFormats.set(digits, new Intl.NumberFormat("en-GB", {
      minimumFractionDigits: digits, maximumFractionDigits: digits,
    }));
  }
  return numberFormats.get(digits).format(value);
}
const compact = new Intl.NumberFormat("en-GB", { notation: "compact", maximumFractionDigits: 1 });

function format(value, kind) {
  switch (kind) {
    case "count": return fixed(value, 0);
    case "per1000": return fixed(value, 1);
    case "share": return `${fixed(value * 100, 1)}%`;
    case "days": return `${fixed(value, 0)} d`;
    case "euro": return `€${fixed(value, 0)}`;
    default: return String(value);
  }
}

function axisFormat(value, kind) {
  if (kind === "euro") return `€${compact.format(value)}`;
  if (kind === "share") return `${fixed(value * 100, 0)}%`;
  return compact.format(value);
}

function periodLabel(row) {
  if (row.month != null) return `${row.year}-${String(row.month).padStart(2, "0")}`;
  if (row.quarter != null) return `${row.year} Q${row.quarter}`;
  return String(row.year);
}

// DOM helpers ----------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value != null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c != null));
  return node;
}

function s(tag, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (parent) parent.append(node);
  return node;
}

function titled(node, text) {
  s("title", {}, node).textContent = text;
  return node;
}

/** A table cell for one value: the figure, "•" when suppressed, "–" when null. The raw value
 * and state are in data-* attributes, for the tests and for anyone reading the page. */
function valueCell(cell, kind, metric) {
  const attrs = { "data-metric": metric };
  if (cell?.suppressed) {
    return h("td", {
      ...attrs, class: "num suppressed", "data-suppressed": "true",
      title: "suppressed: computed from fewer youth than the threshold",
    }, SUPPRESSED_MARK);
  }
  if (cell == null || cell.value == null) {
    return h("td", { ...attrs, class: "num missing", title: "not applicable or no data" },
      MISSING_MARK);
  }
  return h("td", { ...attrs, class: "num", "data-value": String(cell.value) },
    format(cell.value, kind));
}

function byMetric(row) {
  return Object.fromEntries(row.values.map((v) => [v.metric, v]));
}

// Charts (inline SVG) --------------------------------------------------------------------

function niceMax(max) {
  if (!(max > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * step >= max) return m * step;
  return 10 * step;
}

/** Periods along x (bands); each series a line or bars. A period where any series is
 * suppressed is hatched. series: [{name, kind: "line"|"bar", cls, points: [cell]}] */
function timeChart(title, labels, series, kind) {
  const W = 380, H = 190, L = 58, R = 10, T = 10, B = 34;
  const pw = W - L - R, ph = H - T - B;
  const figure = h("figure", { class: "chart" }, h("figcaption", {}, title));
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
  const values = series.flatMap((x) => x.points).map((p) => p?.value).filter((v) => v != null);
  const max = niceMax(Math.max(0, ...values));
  const band = pw / Math.max(1, labels.length);
  const x = (i) => L + band * (i + 0.5);
  const y = (v) => T + ph * (1 - v / max);
  for (const tick of [0, max / 2, max]) {
    s("line", { x1: L, x2: W - R, y1: y(tick), y2: y(tick), class: "grid" }, svg);
    s("text", { x: L - 6, y: y(tick) + 4, class: "axis", "text-anchor": "end" }, svg)
      .textContent = axisFormat(tick, kind);
  }
  labels.forEach((label, i) => {
    if (series.some((x) => x.points[i]?.suppressed)) {
      titled(s("rect", {
        x: L + band * i, y: T, width: band, height: ph, class: "hatched",
      }, svg), `${label}: suppressed`);
    }
    if (i % Math.ceil(labels.length / 6) === 0) {
      s("text", { x: x(i), y: H - B + 16, class: "axis", "text-anchor": "middle" }, svg)
        .textContent = label;
    }
  });
  const bars = series.filter((x) => x.kind === "bar");
  bars.forEach((one, b) => {
    const width = (band * 0.7) / bars.length;
    one.points.forEach((p, i) => {
      if (p?.value == null) return;
      titled(s("rect", {
        x: x(i) - band * 0.35 + b * width, y: y(p.value), width, height: T + ph - y(p.value),
        class: `bar ${one.cls}`,
      }, svg), `${one.name} ${labels[i]}: ${format(p.value, kind)}`);
    });
  });
  for (const one of series.filter((x) => x.kind !== "bar")) {
    let d = "";
    one.points.forEach((p, i) => {
      if (p?.value == null) { d += " "; return; }
      d += `${d.endsWith(" ") || !d ? "M" : "L"}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`;
    });
    s("path", { d: d.trim().replace(/ +/g, " "), class: `line ${one.cls}` }, svg);
    one.points.forEach((p, i) => {
      if (p?.value == null) return;
      titled(s("circle", { cx: x(i), cy: y(p.value), r: 3, class: `dot ${one.cls}` }, svg),
        `${one.name} ${labels[i]}: ${format(p.value, kind)}`);
    });
  }
  figure.append(svg);
  if (series.length > 1) {
    figure.append(h("p", { class: "keys" }, ...series.map((one) =>
      h("span", { class: `key ${one.cls}` }, one.name))));
  }
  return figure;
}

/** Horizontal bars, one per item: [{label, cell, mine}], with optional outline (budget) and
 * marker (forecast) values per item. */
function barChart(title, items, kind) {
  const W = 380, rowH = 22, L = 118, R = 64, T = 6;
  const H = T * 2 + rowH * items.length;
  const figure = h("figure", { class: "chart" }, h("figcaption", {}, title));
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
  const values = items.flatMap((it) => [it.cell?.value, it.outline, it.marker?.value])
    .filter((v) => v != null);
  const max = niceMax(Math.max(0, ...values));
  const w = (v) => ((W - L - R) * v) / max;
  items.forEach((it, i) => {
    const top = T + i * rowH;
    s("text", { x: L - 6, y: top + 15, class: `axis${it.mine ? " mine" : ""}`, "text-anchor": "end" },
      svg).textContent = it.label;
    if (it.outline != null) {
      titled(s("rect", { x: L, y: top + 3, width: w(it.outline), height: rowH - 6, class: "outline" },
        svg), `budget: ${format(it.outline, kind)}`);
    }
    let label;
    if (it.cell?.suppressed) {
      const width = it.outline != null ? w(it.outline) : W - L - R;
      titled(s("rect", { x: L, y: top + 5, width, height: rowH - 10, class: "hatched" },
        svg), `${it.label}: suppressed`);
      label = SUPPRESSED_MARK;
    } else if (it.cell?.value != null) {
      titled(s("rect", { x: L, y: top + 5, width: w(it.cell.value), height: rowH - 10,
        class: `bar${it.mine ? " mine" : ""}` }, svg), `${it.label}: ${format(it.cell.value, kind)}`);
      label = kind === "euro" ? axisFormat(it.cell.value, kind) : format(it.cell.value, kind);
    } else {
      label = MISSING_MARK;
    }
    if (it.marker?.value != null) {
      titled(s("line", { x1: L + w(it.marker.value), x2: L + w(it.marker.value), y1: top + 1,
        y2: top + rowH - 1, class: "marker" }, svg), `forecast: ${format(it.marker.value, kind)}`);
    }
    s("text", { x: W - R + 6, y: top + 15, class: "axis" }, svg).textContent = label;
  });
  figure.append(svg);
  return figure;
}

// State ----------------------------------------------------------------------------------

const state = {
  viewer: null,
  municipalities: [],
  providers: new Map(),
  generation: 0,
};

const $ = (id) => document.getElementById(id);

function municipalityName(code) {
  return state.municipalities.find((m) => m.code === code)?.name ?? code;
}

function filters() {
  const from = $("f-from").value;
  const to = $("f-to").value;
  if (!from || !to) throw new HubError("choose both dates of the period (From and To)");
  if (from > to) throw new HubError(`the period's From (${from}) is after its To (${to})`);
  return {
    from,
    to,
    per: $("f-per").value,
    municipality: $("f-municipality").value || null,
    careType: $("f-care-type").value || null,
    provider: $("f-provider").value || null,
  };
}

function indicatorFilter(f, withMunicipality) {
  const filter = { from: f.from, to: f.to };
  if (withMunicipality && f.municipality) filter.municipalities = [f.municipality];
  if (f.careType) filter.careTypes = [f.careType];
  if (f.provider) filter.providers = [f.provider];
  return filter;
}

function scopeText(f) {
  const parts = [f.municipality ? municipalityName(f.municipality) : "whole region"];
  if (f.careType) parts.push(f.careType.toLowerCase());
  if (f.provider) parts.push(state.providers.get(f.provider) ?? f.provider);
  return `${parts.join(", ")} · ${f.from} to ${f.to}`;
}

// Panels ---------------------------------------------------------------------------------

async function panel(id, generation, load) {
  const section = $(id);
  const error = section.querySelector(".error");
  section.setAttribute("aria-busy", "true");
  try {
    const render = await load();
    if (generation !== state.generation) return;  // filters changed meanwhile
    error.hidden = true;
    render();
  } catch (e) {
    if (e instanceof SignedOut) { signOut(e.message); return; }
    if (generation !== state.generation) return;
    error.textContent = `Could not load: ${e.message}`;
    error.hidden = false;
  } finally {
    if (generation === state.generation) section.setAttribute("aria-busy", "false");
  }
}

async function loadGlance(f) {
  const data = await gql(Q_GLANCE, { groupBy: [f.per], filter: indicatorFilter(f, true) });
  return () => {
    const rows = data.indicators.rows;
    const labels = rows.map(periodLabel);
    const cells = rows.map(byMetric);
    const points = (metric) => cells.map((c) => c[metric]);
    $("glance-scope").textContent = scopeText(f);
    $("glance-charts").replaceChildren(
      timeChart("Youth in care per 1000 youth", labels,
        [{ name: "per 1000", kind: "line", cls: "s1", points: points("YOUTH_PER_1000") }], "per1000"),
      timeChart("Residential share", labels,
        [{ name: "residential", kind: "line", cls: "s1", points: points("RESIDENTIAL_SHARE") }],
        "share"),
      timeChart("Inflow and outflow (trajectories)", labels, [
        { name: "started", kind: "bar", cls: "s1", points: points("TRAJECTORIES_STARTED") },
        { name: "ended", kind: "bar", cls: "s2", points: points("TRAJECTORIES_ENDED") },
      ], "count"),
      timeChart("Average duration of ended trajectories (days)", labels,
        [{ name: "days", kind: "line", cls: "s1", points: points("AVERAGE_DURATION_DAYS") }],
        "days"),
      timeChart("Cost against budget", labels, [
        { name: "cost", kind: "bar", cls: "s1", points: points("COST_EUR") },
        { name: "budget", kind: "line", cls: "s3", points: points("BUDGET_EUR") },
      ], "euro"),
    );
    const head = h("tr", {}, h("th", { scope: "col" }, "Period"),
      ...GLANCE_METRICS.map((m) => h("th", { scope: "col", class: "num" }, METRICS[m][0])));
    $("glance-table").replaceChildren(
      h("thead", {}, head),
      h("tbody", {}, ...rows.map((row, i) => h("tr", { "data-period": labels[i] },
        h("th", { scope: "row" }, labels[i]),
        ...GLANCE_METRICS.map((m) => valueCell(cells[i][m], METRICS[m][1], m))))),
    );
  };
}

async function loadCompare(f) {
  const data = await gql(Q_COMPARE, { filter: indicatorFilter(f, false) });
  return () => {
    const own = state.viewer.municipality;
    $("compare-scope").textContent = scopeText({ ...f, municipality: null });
    const rows = data.indicators.rows;
    const head = h("tr", {}, h("th", { scope: "col" }, "Municipality"),
      ...COMPARE_METRICS.map((m) => h("th", { scope: "col", class: "num" }, METRICS[m][0])));
    $("compare-table").replaceChildren(
      h("thead", {}, head),
      h("tbody", {}, ...rows.map((row) => {
        const cells = byMetric(row);
        const mine = row.municipality === own;
        const chosen = row.municipality === f.municipality;
        return h("tr", {
          "data-municipality": row.municipality,
          class: [mine && "mine", chosen && "chosen"].filter(Boolean).join(" ") || null,
        },
        h("th", { scope: "row" }, municipalityName(row.municipality), mine ? " (yours)" : null),
        ...COMPARE_METRICS.map((m) => valueCell(cells[m], METRICS[m][1], m)));
      })),
    );
    $("compare-chart").replaceWith(Object.assign(barChart("Youth in care per 1000 youth",
      rows.map((row) => ({
        label: municipalityName(row.municipality),
        cell: byMetric(row).YOUTH_PER_1000,
        mine: row.municipality === own || row.municipality === f.municipality,
      })), "per1000"), { id: "compare-chart" }));
  };
}

async function loadBudgets(f) {
  const year = Number(f.to.slice(0, 4));
  const data = await gql(Q_BUDGETS, { year, municipality: f.municipality });
  return () => {
    const lines = data.budgets;
    const where = f.municipality ? municipalityName(f.municipality) : "whole region";
    $("budgets-scope").textContent = `${where} · ${year}`;
    const amount = (a) => valueCell(a, "euro");
    const head = h("tr", {}, ...["Lot", "Budget", "Committed", "Realised", "Released",
      "Forecast", "Forecast / budget", "Run rate until"].map((t, i) =>
      h("th", { scope: "col", class: i ? "num" : null }, t)));
    $("budgets-table").replaceChildren(
      h("thead", {}, head),
      h("tbody", {}, ...lines.map((line) => {
        const share = line.forecast.value != null && line.budget
          ? { value: line.forecast.value / line.budget, suppressed: false }
          : { value: null, suppressed: line.forecast.suppressed };
        return h("tr", { "data-lot": line.lot },
          h("th", { scope: "row" }, LOTS[line.lot] ?? line.lot),
          valueCell({ value: line.budget, suppressed: false }, "euro", "budget"),
          ...["committed", "realised", "released", "forecast"].map((k) => {
            const td = amount(line[k]);
            td.dataset.metric = k;
            return td;
          }),
          valueCell(share, "share", "forecastShare"),
          h("td", { class: "num" }, line.runRateUntil ?? MISSING_MARK));
      })),
    );
    $("budgets-chart").replaceWith(Object.assign(barChart(
      "Realised (bar) and forecast (line) against budget (outline)",
      lines.map((line) => ({
        label: LOTS[line.lot] ?? line.lot, cell: line.realised, outline: line.budget,
        marker: line.forecast,
      })), "euro"), { id: "budgets-chart" }));
  };
}

function signalValue(signal) {
  if (signal.suppressed) return h("span", { class: "suppressed" }, SUPPRESSED_MARK);
  const kind = SIGNALS[signal.kind]?.[1] ?? "count";
  if (kind === "status") return signal.status ?? MISSING_MARK;
  if (signal.value == null) return MISSING_MARK;
  const now = format(signal.value, kind);
  return signal.previous != null ? `${now} (was ${format(signal.previous, kind)})` : now;
}

function badge(level, what) {
  return level ? h("span", { class: `badge ${level.toLowerCase()}` }, `${what} ${level.toLowerCase()}`)
    : null;
}

async function loadRisks(f) {
  const role = state.viewer.role;
  const note = $("risks-note");
  if (!["region", "municipality", "provider"].includes(role)) {
    return () => {
      $("risks-scope").textContent = "";
      note.textContent = "Continuity risks are shown to the region, municipalities and providers.";
      note.hidden = false;
      $("risks-list").replaceChildren();
    };
  }
  const municipality = role === "region" ? f.municipality : null;
  const data = await gql(Q_RISKS, { municipality });
  return () => {
    const risks = data.continuityRisks.filter((r) => !f.provider || r.provider.agb === f.provider);
    $("risks-scope").textContent = role === "municipality"
      ? `providers the youth of ${municipalityName(state.viewer.municipality)} depend on`
      : (municipality ? `providers the youth of ${municipalityName(municipality)} depend on`
        : "all providers");
    note.textContent = "No provider shows a continuity risk signal for this selection.";
    note.hidden = risks.length > 0;
    $("risks-list").replaceChildren(...risks.map(riskCard));
  };
}

const IMPACT = new Set(["YOUTH_SHARE", "RESIDENTIAL_YOUTH"]);

function signalRow(signal) {
  return h("tr", { "data-kind": signal.kind },
    h("th", { scope: "row" }, SIGNALS[signal.kind]?.[0] ?? signal.kind),
    h("td", { class: signal.suppressed ? "num suppressed" : "num" }, signalValue(signal)),
    h("td", {}, badge(signal.level, "")),
    h("td", { class: "evidence" }, signal.evidence, signal.dated ? ` (${signal.dated})` : null));
}

/** A provider's risk: its impact signals and those with a level above LOW first, the others
 * folded away; every signal with its evidence. */
function riskCard(risk) {
  const notable = (sig) => IMPACT.has(sig.kind) || sig.level === "HIGH" || sig.level === "MEDIUM";
  const first = risk.signals.filter(notable);
  const rest = risk.signals.filter((sig) => !notable(sig));
  return h("li", { class: `risk ${risk.level.toLowerCase()}`, "data-provider": risk.provider.agb },
    h("h3", {}, risk.provider.name ?? risk.provider.agb, " ",
      h("small", {}, `AGB ${risk.provider.agb}`), " ", badge(risk.level, "risk"),
      " ", badge(risk.impact, "impact")),
    h("table", { class: "figures signals" }, h("tbody", {}, ...first.map(signalRow))),
    rest.length ? h("details", {}, h("summary", {}, `${rest.length} more signals`),
      h("table", { class: "figures signals" }, h("tbody", {}, ...rest.map(signalRow)))) : null);
}

async function refresh() {
  let f;
  try {
    f = filters();
  } catch (e) {
    $("filter-error").textContent = e.message;
    $("filter-error").hidden = false;
    return;
  }
  $("filter-error").hidden = true;
  const generation = ++state.generation;
  $("board").dataset.ready = "false";
  await Promise.all([
    panel("glance", generation, () => loadGlance(f)),
    panel("compare", generation, () => loadCompare(f)),
    panel("budgets", generation, () => loadBudgets(f)),
    panel("risks", generation, () => loadRisks(f)),
  ]);
  if (generation === state.generation) $("board").dataset.ready = "true";
}

// Sign in and set up ---------------------------------------------------------------------

function signOut(reason) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.viewer = null;
  $("board").hidden = true;
  $("who").hidden = true;
  $("sign-in").hidden = false;
  const error = $("sign-in-error");
  error.textContent = reason ? `Signed out: ${reason}` : "";
  error.hidden = !reason;
}

function options(select, entries) {
  select.replaceChildren(...entries.map(([value, label]) => h("option", { value }, label)));
}

async function allProviders() {
  const providers = [];
  let after = null;
  for (;;) {
    const page = (await gql(Q_PROVIDERS, { after })).providers;
    providers.push(...page.nodes);
    if (!page.pageInfo.hasNextPage) return providers;
    after = page.pageInfo.endCursor;
  }
}

async function start() {
  const { viewer, municipalities } = await gql(Q_VIEWER);
  state.viewer = viewer;
  state.municipalities = municipalities;
  const [providers, years] = await Promise.all([allProviders(), gql(Q_YEARS)]);
  state.providers = new Map(providers.map((p) => [p.agb, p.name ?? p.agb]));

  const who = viewer.municipality ? ` ${municipalityName(viewer.municipality)}`
    : (viewer.provider ? ` ${state.providers.get(viewer.provider) ?? viewer.provider}` : "");
  $("viewer").textContent = `Signed in as ${viewer.role}${who}`;
  $("who").hidden = false;

  options($("f-municipality"), [["", "Whole region"],
    ...municipalities.map((m) => [m.code, `${m.name} (${m.code})`])]);
  if (viewer.municipality) $("f-municipality").value = viewer.municipality;
  options($("f-care-type"), [["", "All jeugdhulp"],
    ...CARE_TYPES.map((c) => [c, c.charAt(0) + c.slice(1).toLowerCase()])]);
  options($("f-provider"), [["", "All providers"],
    ...[...state.providers].sort((a, b) => a[1].localeCompare(b[1]))
      .map(([agb, name]) => [agb, `${name} (${agb})`])]);

  // Default period: the last two calendar years with data, up to this year.
  const thisYear = new Date().getFullYear();
  const dataYears = years.indicators.rows.map((r) => r.year).filter((y) => y <= thisYear);
  const last = dataYears.length ? Math.max(...dataYears) : thisYear;
  $("f-from").value = `${last - 1}-01-01`;
  $("f-to").value = `${last}-12-31`;

  $("sign-in").hidden = true;
  $("board").hidden = false;
  await refresh();
}

async function signIn(event) {
  event.preventDefault();
  const token = $("token").value.trim().replace(/^Bearer\s+/i, "");
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token").value = "";
  await boot();
}

async function boot() {
  if (!sessionStorage.getItem(TOKEN_KEY)) { signOut(null); return; }
  try {
    await start();
  } catch (e) {
    signOut(e.message);
  }
}

$("sign-in-form").addEventListener("submit", signIn);
$("sign-out").addEventListener("click", () => signOut(null));
$("filters").addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
for (const id of ["f-per", "f-municipality", "f-care-type", "f-provider"]) {
  $(id).addEventListener("change", () => refresh());
}
boot();
