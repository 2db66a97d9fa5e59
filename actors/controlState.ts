/**
 * What `.control.status` reports: the run's round, phase and progress (updated by the
 * coordinator), the workers seen, the model versions in use, whether the run is paused, and the
 * live search knobs that `.control.set` changes.
 */

import { MAX_K, MAX_ROLLOUTS } from "../protocols/messages.ts";

/** Search knobs that can be changed while a run is going (applied to problems not yet started). */
export interface Knobs {
  /** Rollouts per problem. */
  readonly rollouts?: number;
  /** Candidates per expansion. */
  readonly k?: number;
  /** UCT exploration constant. */
  readonly c?: number;
  /** Policy sampling temperature. */
  readonly temperature?: number;
}

/** The knob names `set` accepts. */
export const knobNames = ["rollouts", "k", "c", "temperature"] as const;

/** A knob name. */
export type KnobName = (typeof knobNames)[number];

/** Why a `set KEY=VALUE` was refused. */
export interface BadKnob {
  readonly _tag: "BadKnob";
  readonly message: string;
}

/** Parses `KEY=VALUE` into a knob change, or says why not. */
export function parseKnob(assignment: string): { key: KnobName; value: number } | BadKnob {
  const eq = assignment.indexOf("=");
  if (eq <= 0) return bad(`Expected KEY=VALUE, got "${assignment}"`);
  const key = assignment.slice(0, eq).trim();
  const raw = assignment.slice(eq + 1).trim();
  return checkKnob(key, raw === "" ? Number.NaN : Number(raw));
}

/** Checks a knob name and value: integers from 1 for rollouts and k (at most MAX_ROLLOUTS, MAX_K), c >= 0, temperature >= 0. */
export function checkKnob(key: string, value: number): { key: KnobName; value: number } | BadKnob {
  if (!(knobNames as readonly string[]).includes(key)) {
    return bad(`Unknown knob "${key}": expected one of ${knobNames.join(", ")}`);
  }
  const name = key as KnobName;
  if (!Number.isFinite(value)) return bad(`Cannot set ${name}: value must be a number`);
  if (name === "rollouts" || name === "k") {
    const max = name === "k" ? MAX_K : MAX_ROLLOUTS;
    if (!(Number.isInteger(value) && value >= 1 && value <= max)) {
      return bad(`Cannot set ${name}: value must be an integer from 1 to ${max}, got ${value}`);
    }
  }
  if ((name === "c" || name === "temperature") && value < 0) {
    return bad(`Cannot set ${name}: value must be >= 0, got ${value}`);
  }
  return { key: name, value };
}

/** Knobs as `rollouts=32, k=6` (for progress and status lines). */
export function formatKnobs(knobs: Readonly<Record<string, number>>): string {
  return Object.entries(knobs).map(([k, v]) => `${k}=${v}`).join(", ");
}

function bad(message: string): BadKnob {
  return { _tag: "BadKnob", message };
}

/** Progress of the current phase. */
export interface Progress {
  readonly done: number;
  readonly total: number;
}

/** A worker seen on the bus (by its heartbeats or replies). */
export interface WorkerInfo {
  readonly id: string;
  readonly role: string;
  readonly version?: string;
  readonly host?: string;
  readonly pid?: number;
  /** Requests in flight or queued. */
  readonly load?: number;
  readonly lastSeen: number;
}

/** The status report. */
export interface StatusSnapshot {
  readonly run: string;
  readonly round: number;
  readonly phase: string;
  readonly progress: Progress;
  readonly paused: boolean;
  readonly knobs: Knobs;
  readonly workers: WorkerInfo[];
  readonly models: Record<string, string>;
  /** The chaos spec in force (canonical text); absent when none. */
  readonly chaos?: string;
}

/** Mutable run state that the coordinator updates and `.control.status` reports. */
export class ControlState {
  round = 0;
  phase = "idle";
  progress: Progress = { done: 0, total: 0 };
  paused = false;
  knobs: Knobs = {};
  /** The chaos spec in force (canonical text); undefined when none. */
  chaos: string | undefined;
  readonly models: Record<string, string> = {};
  private readonly workers = new Map<string, WorkerInfo>();
  private readonly listeners = new Set<() => void>();
  private pausedAt: number | undefined;
  private pausedBefore = 0;

  constructor(readonly run: string, private readonly now: () => number = Date.now) {}

  /** Sets round, phase and (optionally) progress. */
  setPhase(round: number, phase: string, progress?: Progress): void {
    this.round = round;
    this.phase = phase;
    if (progress !== undefined) this.progress = progress;
    this.changed();
  }

  /** Sets the progress of the current phase. */
  setProgress(done: number, total: number): void {
    this.progress = { done, total };
  }

  /** Pauses or resumes the run. */
  setPaused(paused: boolean): void {
    if (paused && !this.paused) this.pausedAt = this.now();
    if (!paused && this.paused) {
      this.pausedBefore = this.pausedMs();
      this.pausedAt = undefined;
    }
    this.paused = paused;
    this.changed();
  }

  /** Milliseconds the run has spent paused so far, a pause under way counted up to now. */
  pausedMs(): number {
    return this.pausedBefore + (this.paused && this.pausedAt !== undefined ? this.now() - this.pausedAt : 0);
  }

  /** Applies one knob change. */
  setKnob(key: KnobName, value: number): void {
    this.knobs = { ...this.knobs, [key]: value };
    this.changed();
  }

  /** Records a model version in use under a role ("policy", "scorer"). */
  setModel(role: string, version: string): void {
    this.models[role] = version;
  }

  /** Records that a worker was seen. */
  seeWorker(info: WorkerInfo): void {
    this.workers.set(info.id, info);
  }

  /** Forgets the actors of a worker process known to be gone (killed, or exited). */
  forgetWorker(pid: number): void {
    for (const [id, w] of this.workers) if (w.pid === pid) this.workers.delete(id);
  }

  /** Calls `fn` after each pause/resume/knob/phase change; returns an unsubscribe function. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** A plain-data copy for the status reply. */
  snapshot(): StatusSnapshot {
    return {
      run: this.run,
      round: this.round,
      phase: this.phase,
      progress: this.progress,
      paused: this.paused,
      knobs: this.knobs,
      workers: [...this.workers.values()].sort((a, b) => a.id.localeCompare(b.id)),
      models: { ...this.models },
      ...(this.chaos === undefined ? {} : { chaos: this.chaos }),
    };
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }
}
