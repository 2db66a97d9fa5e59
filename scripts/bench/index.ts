/**
 * The benchmark registry behind `rstar bench`: the figure type every area module returns, the
 * list of areas (loaded lazily, so a missing or broken area becomes an error figure instead of
 * aborting the run), the targets from issue 9 with their direction, and the runner.
 *
 * An area module exports `async function benchX(opts: BenchOptions): Promise<BenchFigure[]>` and
 * must not write to stdout (the runner sends `console.log` to stderr while an area runs).
 * See docs/BENCHMARKS.md for what each figure means.
 */

/** One measured figure. `target`/`ok` are filled in by the runner from `benchTargets`. */
export interface BenchFigure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly target?: number;
  readonly ok?: boolean;
  readonly detail?: unknown;
}

/** Options every area function receives. */
export interface BenchOptions {
  /** Short run (the whole quick bench stays under 2 minutes). */
  readonly quick: boolean;
  /** Fires when the area ran past its deadline; long loops may stop early. */
  readonly signal?: AbortSignal;
}

/** An area: the figure-name prefixes it produces and how to load its module. */
export interface BenchArea {
  readonly id: string;
  readonly prefixes: readonly string[];
  /** Name of the exported bench function. */
  readonly exportName: string;
  readonly load: () => Promise<Record<string, unknown>>;
}

const areaModule = (file: string) => () =>
  import(new URL(file, import.meta.url).href) as Promise<Record<string, unknown>>;

/** The areas, in the order they run. */
export const benchAreas: readonly BenchArea[] = [
  { id: "search", prefixes: ["search."], exportName: "benchSearch", load: areaModule("./search.ts") },
  { id: "models", prefixes: ["backend.", "policy.", "ppm."], exportName: "benchModels", load: areaModule("./models.ts") },
  { id: "bus", prefixes: ["bus."], exportName: "benchBus", load: areaModule("./bus.ts") },
  { id: "actors", prefixes: ["expander."], exportName: "benchActors", load: areaModule("./actors.ts") },
  { id: "e2e", prefixes: ["rollout.", "round."], exportName: "benchE2e", load: areaModule("./e2e.ts") },
];

/** Direction of a target: the figure must be at least (`>=`) or at most (`<=`) the target. */
export type TargetOp = ">=" | "<=";

/** A fixed target, or one relative to another figure of the same run (`factor` × `of`). */
export type TargetSpec =
  | { readonly op: TargetOp; readonly value: number }
  | { readonly op: TargetOp; readonly factor: number; readonly of: string };

/** Issue 9's targets. */
export const benchTargets: Readonly<Record<string, TargetSpec>> = {
  "search.ops_per_s": { op: ">=", value: 100_000 },
  "policy.train_mfu": { op: ">=", value: 0.5 },
  "policy.gen_tok_s.b64": { op: ">=", factor: 4, of: "policy.gen_tok_s.b1" },
  "policy.gen_tok_s.b64.threads2": { op: ">=", factor: 1.5, of: "policy.gen_tok_s.b64" },
  "round.bootstrap_search_per_s.lanes2": { op: ">=", factor: 1.5, of: "round.bootstrap_search_per_s" },
  "expander.batching_speedup.b64": { op: ">=", value: 8 },
  "expander.scaling.2proc": { op: ">=", value: 1.7 },
  "rollout.messaging_share.nats": { op: "<=", value: 0.05 },
};

/** True when `value` meets `target` in direction `op`. */
export function meetsTarget(value: number, op: TargetOp, target: number): boolean {
  return Number.isFinite(value) && (op === ">=" ? value >= target : value <= target);
}

/**
 * Sets `target` and `ok` on a figure that has a target in `targets`, using `seen` for relative
 * targets (left unchecked when the reference figure is missing). Other figures pass unchanged.
 */
export function checkTarget(
  figure: BenchFigure,
  seen: ReadonlyMap<string, BenchFigure>,
  targets: Readonly<Record<string, TargetSpec>> = benchTargets,
): BenchFigure {
  const spec = targets[figure.name];
  if (spec === undefined) return figure;
  let target: number;
  if ("value" in spec) {
    target = spec.value;
  } else {
    const ref = seen.get(spec.of);
    if (ref === undefined || !Number.isFinite(ref.value)) return figure;
    target = spec.factor * ref.value;
  }
  return { ...figure, target, ok: meetsTarget(figure.value, spec.op, target) };
}

/** Whether an area can produce a figure whose name starts with `only`. */
export function areaSelected(area: BenchArea, only: string | undefined): boolean {
  if (only === undefined || only === "") return true;
  return area.id.startsWith(only) ||
    area.prefixes.some((p) => p.startsWith(only) || only.startsWith(p));
}

/** Whether a figure passes the `--only` filter. */
export function figureSelected(figure: BenchFigure, only: string | undefined): boolean {
  return only === undefined || only === "" || figure.name.startsWith(only);
}

/** Runner settings. */
export interface RunBenchOptions {
  readonly quick: boolean;
  readonly only?: string;
  readonly areas?: readonly BenchArea[];
  /** Deadline per area in milliseconds; default 100 s quick, 600 s full. */
  readonly areaDeadlineMs?: number;
  /** Called for each figure as it arrives (after target checks). */
  readonly onFigure?: (figure: BenchFigure) => void | Promise<void>;
}

/** An error figure for an area that could not run; `detail` holds the reason. */
export function errorFigure(area: Pick<BenchArea, "id">, reason: string): BenchFigure {
  return { name: `error.${area.id}`, value: 0, unit: "error", ok: false, detail: reason };
}

function isFigure(x: unknown): x is BenchFigure {
  if (x === null || typeof x !== "object") return false;
  const f = x as Record<string, unknown>;
  return typeof f.name === "string" && typeof f.value === "number" && typeof f.unit === "string";
}

async function runArea(area: BenchArea, opts: RunBenchOptions, deadlineMs: number): Promise<BenchFigure[]> {
  let mod: Record<string, unknown>;
  try {
    mod = await area.load();
  } catch (err) {
    return [errorFigure(area, `Cannot load the ${area.id} bench: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`)];
  }
  const fn = mod[area.exportName];
  if (typeof fn !== "function") {
    return [errorFigure(area, `Cannot run the ${area.id} bench: it does not export a function ${area.exportName}`)];
  }
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"deadline">((resolve) => {
    timer = setTimeout(() => {
      resolve("deadline");
      controller.abort();
    }, deadlineMs);
  });
  const log = console.log;
  console.log = console.error;
  try {
    const result = await Promise.race([
      (fn as (o: BenchOptions) => Promise<unknown>)({ quick: opts.quick, signal: controller.signal }),
      deadline,
    ]);
    if (result === "deadline") {
      return [errorFigure(area, `Cannot finish the ${area.id} bench: it ran past ${Math.round(deadlineMs / 1000)} s`)];
    }
    if (!Array.isArray(result)) {
      return [errorFigure(area, `Cannot read the ${area.id} bench: ${area.exportName} did not return an array`)];
    }
    const bad = result.find((f) => !isFigure(f));
    if (bad !== undefined) {
      return [errorFigure(area, `Cannot read the ${area.id} bench: not a figure: ${JSON.stringify(bad)?.slice(0, 120)}`)];
    }
    return result as BenchFigure[];
  } catch (err) {
    return [errorFigure(area, `Cannot finish the ${area.id} bench: ${err instanceof Error ? err.message : String(err)}`)];
  } finally {
    console.log = log;
    clearTimeout(timer);
  }
}

/** Runs the selected areas one after another and returns every figure (error figures included). */
export async function runBench(opts: RunBenchOptions): Promise<BenchFigure[]> {
  const areas = (opts.areas ?? benchAreas).filter((a) => areaSelected(a, opts.only));
  const deadlineMs = opts.areaDeadlineMs ?? (opts.quick ? 100_000 : 600_000);
  const seen = new Map<string, BenchFigure>();
  const out: BenchFigure[] = [];
  for (const area of areas) {
    const figures = await runArea(area, opts, deadlineMs);
    for (const f of figures) seen.set(f.name, f);
    for (const raw of figures) {
      if (raw.unit !== "error" && !figureSelected(raw, opts.only)) continue;
      const fig = checkTarget(raw, seen);
      out.push(fig);
      await opts.onFigure?.(fig);
    }
  }
  return out;
}

/** The JSON line for a figure: `{"name","value","unit","target"?,"ok"?}` (+ `"error"` for errors). */
export function formatFigureLine(fig: BenchFigure): string {
  const line: Record<string, unknown> = {
    name: fig.name,
    value: Number.isFinite(fig.value) ? fig.value : null,
    unit: fig.unit,
  };
  if (fig.target !== undefined) line.target = fig.target;
  if (fig.ok !== undefined) line.ok = fig.ok;
  if (fig.unit === "error") line.error = String(fig.detail);
  return JSON.stringify(line);
}

function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return v.toLocaleString("en-US");
  const a = Math.abs(v);
  return a >= 1000 ? Math.round(v).toLocaleString("en-US") : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

/** A readable table of figures, with a target column and a verdict (ok, MISSED, ERROR). */
export function formatTable(figures: readonly BenchFigure[]): string {
  const rows = figures.map((f) => [
    f.name,
    f.unit === "error" ? "-" : formatValue(f.value),
    f.unit,
    f.target === undefined ? "" : `${benchTargets[f.name]?.op ?? ""} ${formatValue(f.target)}`.trim(),
    f.unit === "error" ? `ERROR: ${String(f.detail)}` : f.ok === undefined ? "" : f.ok ? "ok" : "MISSED",
  ]);
  const head = ["figure", "value", "unit", "target", "verdict"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === 4 ? 0 : r[i]!.length))));
  const fmt = (r: string[]) =>
    r.map((c, i) => (i === 1 || i === 3 ? c.padStart(widths[i]!) : i === 4 ? c : c.padEnd(widths[i]!))).join("  ")
      .trimEnd();
  return [fmt(head), fmt(widths.map((w) => "-".repeat(w))), ...rows.map(fmt)].join("\n");
}
