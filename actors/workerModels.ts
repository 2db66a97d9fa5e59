/**
 * The models a worker serves: the latest published policy/PPM from the run's BlobStore (the
 * bootstrap policy and no PPM before the first publication), loaders for announced versions, and
 * the scripted test models when `RSTAR_TEST_POLICY=scripted` (a test hook).
 */
import type { StepProposer, StepScorer } from "../math/contracts.ts";
import { BootstrapPolicy } from "../models/bootstrapPolicy.ts";
import { initBackend } from "../models/backend.ts";
import { fromBytes } from "../models/checkpoint.ts";
import { TinyPolicy } from "../models/policy.ts";
import { TinyScorer } from "../models/ppm.ts";
import type { BlobStore } from "../protocols/bus.ts";
import { getModel, latestVersion } from "./modelStore.ts";
import { ConstantScorer, ScriptedPolicy } from "./scriptedPolicy.ts";

/** The models a worker starts with and how it loads newer ones. */
export interface WorkerModels {
  readonly policy: StepProposer;
  readonly scorer: StepScorer | undefined;
  loadPolicy(version: string): Promise<StepProposer>;
  loadScorer(version: string): Promise<StepScorer>;
}

/** Whether the scripted test models are requested (`RSTAR_TEST_POLICY=scripted`). */
export function scriptedRequested(env: (name: string) => string | undefined): boolean {
  return env("RSTAR_TEST_POLICY") === "scripted";
}

/** Loads the latest published models (or the scripted ones for tests). */
export async function loadWorkerModels(blobs: BlobStore, scripted: boolean): Promise<WorkerModels> {
  if (scripted) {
    return {
      policy: new ScriptedPolicy(),
      scorer: new ConstantScorer(),
      loadPolicy: (v) => Promise.resolve(new ScriptedPolicy(v)),
      loadScorer: () => Promise.resolve(new ConstantScorer()),
    };
  }
  await initBackend();
  const loadPolicy = async (version: string): Promise<StepProposer> => {
    const bytes = await getModel(blobs, "policy", version);
    if ("_tag" in bytes) throw new Error(bytes.message);
    const model = fromBytes(bytes, `policy ${version}`);
    if (!(model instanceof TinyPolicy)) throw new Error(`Cannot load policy ${version}: the blob holds a scorer`);
    return model;
  };
  const loadScorer = async (version: string): Promise<StepScorer> => {
    const bytes = await getModel(blobs, "ppm", version);
    if ("_tag" in bytes) throw new Error(bytes.message);
    const model = fromBytes(bytes, `ppm ${version}`);
    if (!(model instanceof TinyScorer)) throw new Error(`Cannot load scorer ${version}: the blob holds a policy`);
    return model;
  };
  const pv = await latestVersion(blobs, "policy");
  const sv = await latestVersion(blobs, "ppm");
  return {
    policy: pv === undefined ? new BootstrapPolicy() : await loadPolicy(pv),
    scorer: sv === undefined ? undefined : await loadScorer(sv),
    loadPolicy,
    loadScorer,
  };
}
