/**
 * `report.html`: a self-contained page (inline SVG and CSS, no scripts, no network) with the
 * accuracy per round per strategy, the training solve rate by level per round, and one sample
 * problem's MCTS tree with Q and N on each node.
 */
import type { RunSummary } from "./summary.ts";

/** The parts of a search-tree node the report draws (read loosely from the saved tree JSON). */
export interface TreeNodeView {
  readonly id: number;
  readonly parent: number | null;
  readonly children: readonly number[];
  readonly N: number;
  readonly W: number;
  readonly text: string;
  readonly code: string;
  readonly terminal: boolean;
  readonly answer?: string;
  /** A graded terminal's reward (1 right, -1 wrong); absent where the search did not grade it. */
  readonly reward?: number;
  readonly error: boolean;
}

/** A sample tree for the report. */
export interface SampleTree {
  readonly round: number;
  readonly problemId: string;
  readonly problem: string;
  readonly reference?: string;
  readonly nodes: readonly TreeNodeView[];
}

function num(v: unknown, d = 0): number {
  return typeof v === "number" && Number.isFinite(v) ? v : d;
}

/** Reads the drawable parts of a search tree saved as JSON; unknown shapes give no nodes. */
export function sampleTreeFromJson(round: number, json: unknown): SampleTree | undefined {
  if (typeof json !== "object" || json === null) return undefined;
  const t = json as Record<string, unknown>;
  const rawNodes = Array.isArray(t.nodes) ? t.nodes as Record<string, unknown>[] : [];
  const nodes: TreeNodeView[] = rawNodes.map((n, i) => {
    const step = (typeof n.step === "object" && n.step !== null ? n.step : {}) as Record<string, unknown>;
    return {
      id: num(n.id, i),
      parent: typeof n.parent === "number" && n.parent >= 0 ? n.parent : null,
      children: Array.isArray(n.children) ? (n.children as unknown[]).filter((c) => typeof c === "number") as number[] : [],
      N: num(n.N),
      W: num(n.W),
      text: typeof step.text === "string" ? step.text : "",
      code: typeof step.code === "string" ? step.code : "",
      terminal: n.terminal === true,
      ...(typeof n.answer === "string" ? { answer: n.answer } : {}),
      ...(typeof n.reward === "number" && Number.isFinite(n.reward) ? { reward: n.reward } : {}),
      error: n.error !== undefined && n.error !== null,
    };
  });
  return {
    round,
    problemId: typeof t.problemId === "string" ? t.problemId : "?",
    problem: typeof t.problem === "string" ? t.problem : "",
    ...(typeof t.reference === "string" ? { reference: t.reference } : {}),
    nodes,
  };
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"];

/** A line chart of named series over rounds (y in [0, 1] shown as percent). */
function lineChart(title: string, rounds: number[], series: { name: string; values: (number | undefined)[] }[]): string {
  const w = 520, h = 280, left = 44, right = 130, top = 28, bottom = 36;
  const pw = w - left - right, ph = h - top - bottom;
  const x = (i: number) => left + (rounds.length <= 1 ? pw / 2 : (i * pw) / (rounds.length - 1));
  const y = (v: number) => top + ph - v * ph;
  const parts: string[] = [];
  parts.push(`<text x="${w / 2}" y="16" text-anchor="middle" class="t">${esc(title)}</text>`);
  for (let g = 0; g <= 4; g++) {
    const v = g / 4;
    parts.push(`<line x1="${left}" x2="${left + pw}" y1="${y(v)}" y2="${y(v)}" class="grid"/>`);
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(v * 100)}%</text>`);
  }
  rounds.forEach((r, i) => parts.push(`<text x="${x(i)}" y="${h - 14}" text-anchor="middle">round ${r}</text>`));
  // A series without a value (a strategy the run did not evaluate) gets no legend entry; each
  // keeps its colour from its place in `series`, so a strategy's colour is the same in every report.
  const drawn = series.map((s, si) => ({ ...s, color: COLORS[si % COLORS.length] }))
    .filter((s) => s.values.some((v) => v !== undefined));
  if (drawn.length === 0) {
    parts.push(`<text x="${left + pw / 2}" y="${top + ph / 2}" text-anchor="middle">no figures recorded yet</text>`);
  }
  drawn.forEach((s, si) => {
    const color = s.color;
    const pts = s.values.map((v, i) => (v === undefined ? undefined : [x(i), y(v)] as const));
    const path = pts.filter((p) => p !== undefined).map((p, i) => `${i === 0 ? "M" : "L"}${p![0].toFixed(1)},${p![1].toFixed(1)}`).join(" ");
    if (path) parts.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    pts.forEach((p, i) => {
      if (p) {
        parts.push(
          `<circle cx="${p[0].toFixed(1)}" cy="${p[1].toFixed(1)}" r="3.5" fill="${color}"><title>${esc(s.name)} round ${rounds[i]}: ${(100 * s.values[i]!).toFixed(1)}%</title></circle>`,
        );
      }
    });
    parts.push(`<rect x="${left + pw + 12}" y="${top + si * 18}" width="10" height="10" fill="${color}"/>`);
    parts.push(`<text x="${left + pw + 26}" y="${top + si * 18 + 9}">${esc(s.name)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${parts.join("")}</svg>`;
}

/** Lays the tree out top-down (leaves spread evenly) and draws Q and N on each node. */
function treeSvg(tree: SampleTree, maxNodes = 120): string {
  const byId = new Map(tree.nodes.map((n) => [n.id, n]));
  const root = tree.nodes.find((n) => n.parent === null);
  if (!root) return "<p>(empty tree)</p>";
  // Keep the most visited nodes when the tree is large.
  const keep = new Set<number>();
  const queue = [root.id];
  while (queue.length > 0 && keep.size < maxNodes) {
    const id = queue.shift()!;
    keep.add(id);
    const kids = (byId.get(id)?.children ?? []).map((c) => byId.get(c)).filter((c) => c !== undefined);
    kids.sort((a, b) => b!.N - a!.N);
    for (const k of kids) queue.push(k!.id);
  }
  const pos = new Map<number, { x: number; depth: number }>();
  let leafX = 0;
  let maxDepth = 0;
  const place = (id: number, depth: number): number => {
    maxDepth = Math.max(maxDepth, depth);
    const kids = (byId.get(id)?.children ?? []).filter((c) => keep.has(c));
    let x: number;
    if (kids.length === 0) x = leafX++;
    else {
      const xs = kids.map((k) => place(k, depth + 1));
      x = (xs[0]! + xs[xs.length - 1]!) / 2;
    }
    pos.set(id, { x, depth });
    return x;
  };
  place(root.id, 0);
  const colW = 64, rowH = 70, pad = 40;
  const w = Math.max(300, leafX * colW + 2 * pad), h = (maxDepth + 1) * rowH + 2 * pad;
  const px = (id: number) => pad + pos.get(id)!.x * colW + colW / 2;
  const py = (id: number) => pad + pos.get(id)!.depth * rowH;
  const parts: string[] = [];
  for (const [id] of pos) {
    const n = byId.get(id)!;
    if (n.parent !== null && pos.has(n.parent)) {
      parts.push(`<line x1="${px(n.parent)}" y1="${py(n.parent)}" x2="${px(id)}" y2="${py(id)}" class="edge"/>`);
    }
  }
  for (const [id] of pos) {
    const n = byId.get(id)!;
    const q = n.N > 0 ? n.W / n.N : 0;
    const fill = n.error ? "#bbb" : n.terminal ? ((n.reward ?? q) > 0 ? "#7bc67b" : "#e57373") : "#9ecae1";
    const tip = `${n.text}\n${n.code}${n.answer !== undefined ? `\nanswer ${n.answer}` : ""}\nQ=${q.toFixed(2)} N=${n.N}`;
    parts.push(
      `<g><title>${esc(tip)}</title><circle cx="${px(id)}" cy="${py(id)}" r="18" fill="${fill}" stroke="#333"/>` +
        `<text x="${px(id)}" y="${py(id) - 1}" text-anchor="middle" class="s">${q.toFixed(2)}</text>` +
        `<text x="${px(id)}" y="${py(id) + 10}" text-anchor="middle" class="s">${n.N}</text></g>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${parts.join("")}</svg>`;
}

/** Renders the whole report page. */
export function renderReport(summary: RunSummary, sample?: SampleTree): string {
  const rounds = summary.rounds.map((r) => r.round);
  const strategies = ["greedy", "bon-vote", "bon-ppm", "mcts"];
  const acc = lineChart(
    "Test accuracy per round, by strategy",
    rounds,
    strategies.map((s) => ({ name: s, values: summary.rounds.map((r) => r.evaluation[s]?.accuracy) })),
  );
  const levels = new Set<string>();
  for (const r of summary.rounds) for (const k of Object.keys(r.train.byLevel)) levels.add(k);
  const lv = [...levels].sort((a, b) => Number(a) - Number(b));
  const solve = lineChart(
    "Training solve rate per round, by level",
    rounds,
    lv.map((l) => ({ name: l === "0" ? "no level" : `level ${l}`, values: summary.rounds.map((r) => r.train.byLevel[l]?.rate) })),
  );
  const rows = summary.rounds.map((r) =>
    `<tr><td>${r.round}${r.complete ? "" : "*"}</td><td>${(100 * r.train.solveRate).toFixed(1)}</td><td>${r.sft}</td><td>${r.pairs}</td>` +
    strategies.map((s) => `<td>${r.evaluation[s] ? (100 * r.evaluation[s]!.accuracy).toFixed(1) : "-"}</td>`).join("") +
    `<td>${(r.wallMs.total / 1000).toFixed(0)}</td></tr>`
  ).join("");
  const treePart = sample
    ? `<h2>Sample MCTS tree (round ${sample.round}, ${esc(sample.problemId)})</h2><p class="problem">${esc(sample.problem)}${
      sample.reference !== undefined ? ` <b>reference: ${esc(sample.reference)}</b>` : ""
    }</p><p>Each node shows Q (top) and N (bottom); green = correct terminal, red = wrong, grey = failed code. Hover for the step.</p><div class="tree">${
      treeSvg(sample)
    }</div>`
    : "<p>No sample tree was saved.</p>";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rstar run report</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
svg text{font-size:11px;fill:#222}svg .t{font-size:13px;font-weight:600}svg .s{font-size:9px}
.grid{stroke:#e5e5e5}.edge{stroke:#888}.tree{overflow-x:auto}.problem{max-width:60em}
</style></head><body>
<h1>rstar evolve report</h1>
<p>Preset ${esc(summary.preset)}, seed ${summary.seed}, ${summary.finished ? "finished" : "not finished"}; lost records: ${summary.lost}; resumes: ${summary.faults.resumes}.</p>
<table><tr><th>round</th><th>train solve %</th><th>SFT</th><th>pairs</th>${strategies.map((s) => `<th>${s} %</th>`).join("")}<th>wall s</th></tr>${rows}</table>
<div>${acc}${solve}</div>
${treePart}
</body></html>
`;
}
