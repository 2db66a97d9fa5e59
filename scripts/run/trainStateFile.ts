/**
 * A training run's saved state in the run directory (models/trainState.ts format), so that a run
 * killed while it trains continues training from its last save on `--resume` instead of from
 * the first step. A file that cannot be read, or that another training run saved (other data,
 * settings or initial weights), is set aside with a line saying so, and training starts over.
 */
import { dirname } from "node:path";
import { saveTrainingNow, type TrainCheckpoints } from "../../models/train.ts";
import {
  type TrainState,
  TrainStateError,
  trainStateFromBytes,
  trainStateToBytes,
} from "../../models/trainState.ts";
import { writeFileAtomic } from "./runDirectory.ts";

/** Where the training run that writes checkpoint `dir` keeps its state: `DIR-training.safetensors`. */
export function trainStatePath(dir: string): string {
  return `${dir}-training.safetensors`;
}

/** The state file of one training run (`label` names it in the lines written to `say`). */
export function trainStateFile(
  path: string,
  everySeconds: number,
  label: string,
  say: (line: string) => void,
): TrainCheckpoints & { remove(): void } {
  return {
    everySeconds,
    label,
    load(fingerprint: string): Promise<TrainState | undefined> {
      let bytes: Uint8Array;
      try {
        bytes = Deno.readFileSync(path);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) return Promise.resolve(undefined);
        throw err;
      }
      let state: TrainState;
      try {
        state = trainStateFromBytes(bytes, path);
      } catch (err) {
        if (!(err instanceof TrainStateError)) throw err;
        say(`${label}: ${err.message}; training from the first step`);
        return Promise.resolve(undefined);
      }
      if (state.fingerprint !== fingerprint) {
        say(
          `${label}: ${path} was saved by a training run with other data, settings or initial weights; training from the first step`,
        );
        return Promise.resolve(undefined);
      }
      say(
        `${label}: ${
          state.finished ? "already trained" : `resuming at step ${state.step}/${state.total}`
        } (state saved in ${path})`,
      );
      return Promise.resolve(state);
    },
    save(state: TrainState): Promise<void> {
      Deno.mkdirSync(dirname(path), { recursive: true });
      writeFileAtomic(path, trainStateToBytes(state));
      return Promise.resolve();
    },
    remove(): void {
      try {
        Deno.removeSync(path);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    },
  };
}

/** Has a training run in progress save its state after its current step, and says where it saved (SIGINT, SIGTERM). */
export async function stopTraining(): Promise<void> {
  for (const at of await saveTrainingNow()) console.error(`${at.label ?? "training"}: state saved at step ${at.step}/${at.total}`);
}
