/**
 * The system the actor, chaos and CLI tests run: `startSystem` over the scripted policy and the
 * constant scorer (actors/scriptedPolicy.ts), and toy problems for it to search.
 */
import type { Problem } from "../../math/contracts.ts";
import { SafeExecutor } from "../../math/interpreter.ts";
import { silentLogger } from "../../actors/log.ts";
import { ConstantScorer, exactGrade, ScriptedPolicy } from "../../actors/scriptedPolicy.ts";
import type { SystemHandle, SystemOptions } from "../../actors/system.ts";
import { startSystem } from "../../actors/system.ts";
import { InMemoryBlobStore } from "../../protocols/inProcessBus.ts";

/** The bus, run and roles, plus whatever differs from `startScriptedSystem`'s defaults. */
export type ScriptedSystemOptions = Pick<SystemOptions, "bus" | "run" | "roles"> & Partial<SystemOptions>;

/**
 * Starts a system with a fresh in-memory BlobStore, `ScriptedPolicy`, `ConstantScorer`,
 * `SafeExecutor`, a silent log and exact grading; `options` adds to or overrides these.
 */
export function startScriptedSystem(options: ScriptedSystemOptions): SystemHandle {
  return startSystem({
    blobs: new InMemoryBlobStore(),
    policy: new ScriptedPolicy(),
    scorer: new ConstantScorer(),
    executor: new SafeExecutor(),
    log: silentLogger,
    grade: exactGrade,
    ...options,
  });
}

/** `n` toy problems with ids `<prefix>0`, `<prefix>1`, …: "problem i", answer `answer(i)` (default i mod 5). */
export function toyProblems(n: number, prefix: string, answer: (i: number) => string = (i) => String(i % 5)): Problem[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, family: "toy", level: 2, problem: `problem ${i}`, answer: answer(i) }));
}
