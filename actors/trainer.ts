/**
 * The Trainer actor on the bus: serves `rstar.<run>.train`. A request names a blob of search
 * trees (JSONL, one SearchTree per line) in the run's BlobStore; the Trainer extracts SFT data
 * (top-2 correct trajectories per problem) or PPM preference pairs (step pairs at shared
 * prefixes), trains the model (models/train.ts), stores the weights (`models/<name>/<version>`)
 * and announces the new version on `.model`. Jobs run one at a time in `trainerMachine`; a
 * request that arrives while another trains is queued behind it.
 */
import { createActor } from "xstate";
import { renderStep } from "../math/contracts.ts";
import { fromBytes, toBytes } from "../models/checkpoint.ts";
import { PRESETS, TinyPolicy } from "../models/policy.ts";
import { TinyScorer } from "../models/ppm.ts";
import { Tokenizer } from "../models/tokenizer.ts";
import type { PairExample, SftExample } from "../models/train.ts";
import { trainPolicy, trainScorer } from "../models/train.ts";
import type { BlobStore, Bus } from "../protocols/bus.ts";
import { ProtocolError, publish } from "../protocols/codec.ts";
import { ModelPublished, PROTOCOL_VERSION, TrainReply, TrainRequest } from "../protocols/messages.ts";
import { QueueGroups, runSubjects } from "../protocols/subjects.ts";
import { preferencePairs, sftPicks } from "../search/extract.ts";
import type { SearchTree } from "../search/types.ts";
import type { ChildExit } from "./childMachine.ts";
import type { Logger } from "./log.ts";
import { getModel, latestVersion, putModel } from "./modelStore.ts";
import type { TrainerInput, TrainOutcome } from "./trainerMachine.ts";
import { trainerMachine } from "./trainerMachine.ts";
import type { ServingHandle } from "./serving.ts";
import { serveJobs, startJobActor } from "./serving.ts";

/** What a Trainer needs. */
export interface TrainerOptions {
  readonly bus: Bus;
  readonly blobs: BlobStore;
  readonly run: string;
  readonly log: Logger;
  readonly now: () => number;
}

/** Training data extracted from trees. */
export interface RoundData {
  readonly sft: SftExample[];
  readonly pairs: PairExample[];
}

/** SFT examples (top-2 correct trajectories per tree) and step preference pairs of a round's trees. */
export function extractRoundData(trees: readonly SearchTree[]): RoundData {
  const sft: SftExample[] = [];
  const pairs: PairExample[] = [];
  for (const tree of trees) {
    for (const t of sftPicks(tree, 2)) sft.push({ problem: tree.problem, steps: t.steps });
    for (const p of preferencePairs(tree)) {
      if (p.kind !== "step" || p.chosen[0] === undefined || p.rejected[0] === undefined) continue;
      pairs.push({ problem: tree.problem, steps: p.prefix, chosen: p.chosen[0], rejected: p.rejected[0] });
    }
  }
  return { sft, pairs };
}

/** Parses a JSONL blob of trees; a bad line is a tagged error naming it. */
export function parseTrees(bytes: Uint8Array): SearchTree[] | { _tag: "BadTrees"; message: string } {
  const lines = new TextDecoder().decode(bytes).split("\n").filter((l) => l.trim() !== "");
  const trees: SearchTree[] = [];
  for (let i = 0; i < lines.length; i++) {
    try {
      const t = JSON.parse(lines[i]!);
      if (!Array.isArray(t?.nodes) || typeof t?.problem !== "string") throw new Error("not a search tree");
      trees.push(t as SearchTree);
    } catch (err) {
      return { _tag: "BadTrees", message: `Fix the tree data on line ${i + 1}: ${err instanceof Error ? err.message : String(err)}` };
    }
  }
  return trees;
}

/** A Trainer machine without the bus: submit requests, get replies (tests, embedding). */
export interface TrainerCore {
  submit(request: TrainRequest): Promise<TrainOutcome>;
  /** Resolves when the machine ends. */
  readonly exited: Promise<ChildExit>;
  /** The last version published ("none" before the first). */
  version(): string;
  /** Finishes queued jobs, then stops. */
  stop(): Promise<void>;
}

/** Starts the Trainer machine over `train`, not connected to any bus. */
export function startTrainerCore(input: TrainerInput): TrainerCore {
  const actor = createActor(trainerMachine, { input });
  return { ...startJobActor(actor, "Trainer"), version: () => actor.getSnapshot().context.version };
}

/** Starts a Trainer on the bus. */
export function startTrainer(options: TrainerOptions): Promise<ServingHandle> {
  const s = runSubjects(options.run);
  const log = options.log.child({ actor: "trainer", run: options.run });
  let lastBeat = options.now();

  const train = async (req: TrainRequest): Promise<TrainOutcome> => {
    const bytes = await options.blobs.get(req.data);
    if (bytes === undefined) return new ProtocolError({ code: "BadRequest", message: `Store the training data first: no blob ${req.data}` });
    const trees = parseTrees(bytes);
    if ("_tag" in trees) return new ProtocolError({ code: "BadRequest", message: trees.message });
    const data = extractRoundData(trees);
    const p = req.params ?? {};
    const opts = { epochs: p.epochs ?? 2, batchSize: p.batchSize ?? 16, lr: p.lr ?? 1e-3, seed: req.round + 1 };
    const texts = trees.flatMap((t) => [t.problem, ...t.nodes.map((n) => renderStep(n.step))]);
    const version = `${req.kind}-r${req.round}`;
    const base = req.baseVersion ?? await latestVersion(options.blobs, req.kind);
    let model: TinyPolicy | TinyScorer;
    if (base !== undefined) {
      const b = await getModel(options.blobs, req.kind, base);
      if ("_tag" in b) return new ProtocolError({ code: "BadRequest", message: b.message });
      model = fromBytes(b, `${req.kind} ${base}`);
    } else if (req.kind === "policy") {
      model = TinyPolicy.create(PRESETS.smoke, Tokenizer.build(texts), req.round + 1);
    } else {
      model = TinyScorer.create("ppm", PRESETS.smoke, Tokenizer.build(texts), req.round + 1);
    }
    const examples = req.kind === "policy" ? data.sft.length : data.pairs.length;
    if (examples === 0) {
      return new ProtocolError({ code: "BadRequest", message: `Search more problems first: the trees hold no ${req.kind} training examples` });
    }
    const result = req.kind === "policy"
      ? await trainPolicy(model as TinyPolicy, data.sft, opts)
      : await trainScorer(model as TinyScorer, data.pairs, opts);
    const loss = result.losses[result.losses.length - 1] ?? Number.NaN;
    model.version = version;
    const blob = await putModel(options.blobs, req.kind, version, toBytes(model, { round: req.round, version }));
    publish(options.bus, s.model, ModelPublished, { v: PROTOCOL_VERSION, name: req.kind, version, blob, round: req.round });
    log.info("Published model", { round: req.round, version, examples });
    return {
      v: PROTOCOL_VERSION,
      id: req.id,
      round: req.round,
      kind: req.kind,
      version,
      blob,
      metrics: {
        examples,
        ...(Number.isFinite(loss) ? { loss } : {}),
        steps: result.steps,
        seconds: result.seconds,
      },
    };
  };

  const core = startTrainerCore({ train });
  return Promise.resolve(serveJobs({
    bus: options.bus,
    subject: s.train,
    queue: QueueGroups.trainer,
    requestSchema: TrainRequest,
    replySchema: TrainReply,
    handle: (req) => {
      lastBeat = options.now();
      return core.submit(req);
    },
    core,
    log,
    lastHeartbeat: () => lastBeat,
    version: core.version,
  }));
}
