/**
 * Finds a run's trained models from its directory and ledger (read-only): used by `rstar solve`
 * and `rstar eval`.
 */
import { type ModelRef, trainedModels } from "../../actors/coordinator.ts";
import { configProblem, type EvolveConfig } from "./config.ts";
import { type LedgerCorrupt, readLedger, replay } from "./ledger.ts";
import { openRunDirectory, type RunDirectory, type RunDirError } from "./runDirectory.ts";

/** The models of one trained round of a run. */
export interface RoundModels {
  readonly _tag: "RoundModels";
  readonly dir: RunDirectory<EvolveConfig>;
  readonly round: number;
  readonly policy: ModelRef;
  /** Absent for a remote policy's run, which trains no PPM. */
  readonly scorer?: ModelRef;
}

/** Why a run's models could not be found. */
export type RunModelsError = RunDirError | LedgerCorrupt | {
  readonly _tag: "NotTrained";
  readonly message: string;
};

/** The models of round `round` (default: the latest trained round) of the run at `root`. */
export function roundModels(root: string, round?: number): RoundModels | RunModelsError {
  const dir = openRunDirectory<EvolveConfig>(root, configProblem);
  if (dir._tag !== "RunDirectory") return dir;
  const read = readLedger(dir.paths.ledger);
  if (read._tag === "LedgerCorrupt") return read;
  const state = replay(read.events);
  const rounds = [...state.trained.keys()].sort((a, b) => a - b);
  if (rounds.length === 0) {
    return { _tag: "NotTrained", message: `Cannot load models from ${root}: no round has been trained yet` };
  }
  const k = round ?? rounds[rounds.length - 1]!;
  const t = state.trained.get(k);
  if (!t) {
    return {
      _tag: "NotTrained",
      message: `Cannot load round ${k} from ${root}: trained rounds are ${rounds.join(", ")}`,
    };
  }
  // The models the run itself evaluated this round with (a remote policy where it moved, say).
  const { policy, scorer } = trainedModels(state, dir, k);
  const cp = dir.paths.checkpoints(k);
  const ppm: ModelRef | undefined = scorer ??
    (policy.kind === "checkpoint" ? { kind: "checkpoint", dir: cp.ppm, version: `ppm-r${k}` } : undefined);
  return { _tag: "RoundModels", dir, round: k, policy, ...(ppm === undefined ? {} : { scorer: ppm }) };
}
