/**
 * The protocol at a glance: every message with its subject, its schema and an example payload.
 * `scripts/gen-protocol-doc.ts` renders it into `docs/PROTOCOL.md`, and the tests check that every
 * example decodes with its schema.
 */
import type { Schema } from "effect";
import * as M from "./messages.ts";

/** One exchange on one subject: a request with its reply, or a broadcast. */
export interface CatalogEntry {
  /** Subject pattern, with `<run>` for the run name. */
  readonly subject: string;
  /** Queue group of the responders, when requests go to one member. */
  readonly queue?: string;
  readonly summary: string;
  readonly message: { readonly name: string; readonly schema: Schema.Top; readonly example: unknown };
  /** The reply, for request/reply subjects. */
  readonly reply?: { readonly name: string; readonly schema: Schema.Top; readonly example: unknown };
}

const v = M.PROTOCOL_VERSION;

const step = { text: "Add the two numbers", code: "total = 2 + 3" };

const expandRequest: M.ExpandRequest = {
  v,
  id: "demo:2:p17:wave:3",
  run: "demo",
  problem: "Ann has 2 apples and buys 3 more. How many apples does she have?",
  asks: [{ steps: [step], seed: 1234 }, { steps: [], seed: 1235 }],
  k: 2,
  temperature: 0.8,
  topP: 0.95,
  policyVersion: "policy-r2",
  grade: { reference: "5" },
};

const expandReply: M.ExpandReply = {
  v,
  id: "demo:2:p17:wave:3",
  results: [
    {
      candidates: [
        { step: { text: "Print the total", code: "print(total)" }, stdout: "5\n", terminal: true, answer: "5", logprob: -0.41, correct: true },
        {
          step: { text: "Divide by the count", code: "x = total / count" },
          stdout: "",
          error: { kind: "NameError", message: "name 'count' is not defined", line: 1 },
          terminal: false,
          logprob: -2.3,
        },
      ],
      policyVersion: "policy-r2",
      tokens: 21,
    },
    {
      candidates: [{ step: { text: "Add the two numbers", code: "total = 2 + 3" }, stdout: "", terminal: false, logprob: -0.2 }],
      policyVersion: "policy-r2",
      tokens: 9,
    },
  ],
  worker: "expander-1",
  batchSize: 16,
};

const scoreRequest: M.ScoreRequest = {
  v,
  id: "demo/p17/n4/score",
  items: [{ problem: expandRequest.problem, steps: [step], candidate: { text: "Print the total", code: "print(total)" } }],
  grade: [{ answer: "5", reference: "5" }],
};

const scoreReply: M.ScoreReply = { v, id: "demo/p17/n4/score", scores: [0.83], grades: [true], scorerVersion: "ppm-r2" };

const trainRequest: M.TrainRequest = {
  v,
  id: "demo/r2/ppm",
  run: "demo",
  round: 2,
  kind: "ppm",
  data: "demo/r2/pairs.jsonl",
  baseVersion: "ppm-r1",
  params: { epochs: 2, lr: 0.0003 },
};

const trainReply: M.TrainReply = {
  v,
  id: "demo/r2/ppm",
  round: 2,
  kind: "ppm",
  version: "ppm-r2",
  blob: "demo/models/ppm-r2.safetensors",
  metrics: { loss: 0.41, pairAccuracy: 0.82 },
};

/** Every exchange of the protocol. */
export const catalog: readonly CatalogEntry[] = [
  {
    subject: "rstar.<run>.expand",
    queue: "rstar-expanders",
    summary:
      "A Searcher asks for k candidate next steps after each node of a tree's wave; an Expander samples them, runs their code, grades terminal answers when the request carries a reference (training), and replies.",
    message: { name: "ExpandRequest", schema: M.ExpandRequest, example: expandRequest },
    reply: { name: "ExpandReply", schema: M.ExpandReply, example: expandReply },
  },
  {
    subject: "rstar.<run>.score",
    queue: "rstar-scorers",
    summary:
      "A Searcher asks for PPM values of candidate steps, the test-time grade of a search's chosen answer, and grades of training terminals an Expander left ungraded.",
    message: { name: "ScoreRequest", schema: M.ScoreRequest, example: scoreRequest },
    reply: { name: "ScoreReply", schema: M.ScoreReply, example: scoreReply },
  },
  {
    subject: "rstar.<run>.train",
    queue: "rstar-trainers",
    summary: "The coordinator asks a Trainer to train the policy or the PPM on a round's data (a blob).",
    message: { name: "TrainRequest", schema: M.TrainRequest, example: trainRequest },
    reply: { name: "TrainReply", schema: M.TrainReply, example: trainReply },
  },
  {
    subject: "rstar.<run>.model",
    summary: "A new model version is in the blob store; Expanders and Scorers load it between batches.",
    message: {
      name: "ModelPublished",
      schema: M.ModelPublished,
      example: { v, name: "ppm", version: "ppm-r2", blob: "demo/models/ppm-r2.safetensors", round: 2 } satisfies M.ModelPublished,
    },
  },
  {
    subject: "rstar.<run>.heartbeat",
    summary: "Every worker says it is alive every few seconds; the Supervisor restarts the silent ones.",
    message: {
      name: "Heartbeat",
      schema: M.Heartbeat,
      example: {
        v,
        actor: "expander-1",
        role: "expander",
        pid: 4242,
        host: "gpu-box",
        load: 3,
        versions: { policy: "policy-r2" },
        at: 1767225600000,
      } satisfies M.Heartbeat,
    },
  },
  {
    subject: "rstar.<run>.events.<kind>",
    summary: "Observability events; `kind` is the event's `kind` field. Subscribe to `rstar.<run>.events.>` for all.",
    message: {
      name: "Event",
      schema: M.Event,
      example: {
        v,
        run: "demo",
        kind: "problem-solved",
        problemId: "p17",
        round: 2,
        answer: "5",
        correct: true,
        rollouts: 16,
      } satisfies M.Event,
    },
  },
  {
    subject: "rstar.<run>.control.status",
    queue: "rstar-control",
    summary: "Round, phase, progress, workers, model versions and knobs of a running system.",
    message: { name: "StatusRequest", schema: M.StatusRequest, example: { v, id: "ctl-1" } satisfies M.StatusRequest },
    reply: {
      name: "StatusReply",
      schema: M.StatusReply,
      example: {
        v,
        id: "ctl-1",
        run: "demo",
        round: 2,
        phase: "search",
        paused: false,
        progress: { done: 37, total: 120 },
        workers: [{ actor: "expander-1", role: "expander", host: "gpu-box", pid: 4242, load: 3, lastSeenMs: 800 }],
        models: { policy: "policy-r2", ppm: "ppm-r1" },
        knobs: { rollouts: 16, k: 4, c: 2, temperature: 0.8 },
      } satisfies M.StatusReply,
    },
  },
  {
    subject: "rstar.<run>.control.pause",
    queue: "rstar-control",
    summary: "Stop starting new rollouts; in-flight requests finish.",
    message: { name: "PauseRequest", schema: M.PauseRequest, example: { v, id: "ctl-2" } satisfies M.PauseRequest },
    reply: { name: "RunStateReply", schema: M.PauseReply, example: { v, id: "ctl-2", state: "paused" } satisfies M.RunStateReply },
  },
  {
    subject: "rstar.<run>.control.resume",
    queue: "rstar-control",
    summary: "Resume a paused search.",
    message: { name: "ResumeRequest", schema: M.ResumeRequest, example: { v, id: "ctl-3" } satisfies M.ResumeRequest },
    reply: { name: "RunStateReply", schema: M.ResumeReply, example: { v, id: "ctl-3", state: "running" } satisfies M.RunStateReply },
  },
  {
    subject: "rstar.<run>.control.set",
    queue: "rstar-control",
    summary: "Set a search knob (rollouts, k, c, temperature) for problems not yet started.",
    message: { name: "SetRequest", schema: M.SetRequest, example: { v, id: "ctl-4", key: "rollouts", value: 32 } satisfies M.SetRequest },
    reply: {
      name: "SetReply",
      schema: M.SetReply,
      example: { v, id: "ctl-4", key: "rollouts", value: 32, previous: 16 } satisfies M.SetReply,
    },
  },
  {
    subject: "rstar.<run>.control.solve",
    queue: "rstar-control",
    summary: "Solve one problem with the latest models.",
    message: {
      name: "SolveRequest",
      schema: M.SolveRequest,
      example: { v, id: "ctl-5", problem: "What is 12 * 7?", rollouts: 8 } satisfies M.SolveRequest,
    },
    reply: {
      name: "SolveReply",
      schema: M.SolveReply,
      example: {
        v,
        id: "ctl-5",
        answer: "84",
        steps: [{ text: "Multiply", code: "print(12 * 7)" }],
        outputs: ["84"],
        value: 0.91,
        versions: { policy: "policy-r2", ppm: "ppm-r2" },
      } satisfies M.SolveReply,
    },
  },
  {
    subject: "rstar.<run>.control.chaos",
    queue: "rstar-control",
    summary: "Replace the fault-injection spec at run time (empty: no faults).",
    message: {
      name: "ChaosRequest",
      schema: M.ChaosRequest,
      example: { v, id: "ctl-6", spec: "drop=0.1,dup=0.05,delay=0-100ms" } satisfies M.ChaosRequest,
    },
    reply: {
      name: "ChaosReply",
      schema: M.ChaosReply,
      example: { v, id: "ctl-6", spec: "drop=0.1,dup=0.05,delay=0-100ms" } satisfies M.ChaosReply,
    },
  },
  {
    subject: "(any request subject)",
    summary: "What a responder sends instead of a reply when it cannot serve a request; the `Rstar-Error` header carries the code.",
    message: {
      name: "ErrorReply",
      schema: M.ErrorReply,
      example: {
        v,
        id: "demo/p17/n4/r2",
        error: { code: "VersionMismatch", message: "Speak protocol version 2: the payload has version 1, this peer speaks 2" },
      } satisfies M.ErrorReply,
    },
  },
  {
    subject: "rstar.<run>.deadletter",
    summary: "A message that could not be served and had no reply subject.",
    message: {
      name: "DeadLetter",
      schema: M.DeadLetter,
      example: {
        v,
        subject: "rstar.demo.expand",
        reason: "BadRequest",
        message: "Send valid JSON: Unexpected token 'n', \"not json\" is not valid JSON",
        sample: "not json",
        size: 8,
      } satisfies M.DeadLetter,
    },
  },
];
