/**
 * The Searcher's statechart for one problem, a thin shell over search/'s ask/tell: `asking`
 * (`ask` hands out up to `trialsPerTree` expansions) → `expanding` (one ExpandRequest for the
 * wave's asks; in training the Expander grades terminal answers too) → `evaluating` (one
 * ScoreRequest for the wave's PPM values, when a PPM runs) → `telling` (each reply is told in
 * trial order, so the tree depends only on the seed and the models, not on which reply arrived
 * first) → `asking` again, until nothing is left to ask → `finishing` (choose and, at test time,
 * grade the answer) → `done`.
 * The bus work is provided by the caller (`searchService.ts`) as named actor implementations.
 */
import { assign, fromPromise, setup } from "xstate";
import { ask, tell } from "../search/SearchTree.ts";
import type { Ask, Candidate, SearchTree } from "../search/types.ts";

/** An Expander's reply as the machine needs it (candidates not yet valued or graded). */
export interface WaveReply {
  readonly candidates: Candidate[];
  readonly policyVersion: string;
  readonly tokens: number;
}

/** Candidates with values and rewards, ready to tell, one list per ask. */
export interface Evaluated {
  readonly candidates: Candidate[][];
  readonly scorerVersion?: string;
}

/** The end of a search. */
export interface SearchOutcome {
  readonly tree: SearchTree;
  readonly answer?: string;
  readonly solved: boolean;
  readonly policyVersion: string;
  readonly scorerVersion?: string;
  readonly tokens: number;
}

/** Input: a fresh tree and how many expansions to keep in flight. */
export interface SearcherInput {
  readonly tree: SearchTree;
  readonly trialsPerTree: number;
}

interface SearcherContext {
  tree: SearchTree;
  readonly trialsPerTree: number;
  asks: Ask[];
  replies: WaveReply[];
  evaluated: Candidate[][];
  wave: number;
  policyVersion: string;
  scorerVersion: string | undefined;
  tokens: number;
  answer: string | undefined;
  solved: boolean;
  error: unknown;
}

const notProvided = (what: string) =>
  fromPromise<never, unknown>(() => Promise.reject(new Error(`Provide the searcher's ${what} implementation`)));

/** The Searcher machine; provide `expandWave`, `evaluateWave` and `finish` with `.provide()`. */
export const searcherMachine = setup({
  types: {
    context: {} as SearcherContext,
    input: {} as SearcherInput,
    output: {} as SearchOutcome | { error: unknown },
  },
  actors: {
    expandWave: notProvided("expandWave") as unknown as ReturnType<
      typeof fromPromise<WaveReply[], { tree: SearchTree; asks: Ask[]; wave: number }>
    >,
    evaluateWave: notProvided("evaluateWave") as unknown as ReturnType<
      typeof fromPromise<Evaluated, { asks: Ask[]; replies: WaveReply[]; wave: number }>
    >,
    finish: notProvided("finish") as unknown as ReturnType<
      typeof fromPromise<{ answer?: string; solved: boolean }, { tree: SearchTree }>
    >,
  },
  actions: {
    askMore: assign(({ context }) => {
      const step = ask(context.tree, context.trialsPerTree);
      return { tree: step.tree, asks: step.asks };
    }),
    tellWave: assign(({ context }) => {
      let tree = context.tree;
      let tokens = context.tokens;
      let policyVersion = context.policyVersion;
      context.asks.forEach((a, i) => {
        const rep = context.replies[i]!;
        policyVersion = rep.policyVersion;
        tokens += rep.tokens;
        tree = tell(tree, a.trialId, context.evaluated[i]!);
      });
      return { tree, tokens, policyVersion, wave: context.wave + 1, asks: [], replies: [], evaluated: [] };
    }),
  },
  guards: {
    nothingToAsk: ({ context }) => context.asks.length === 0,
  },
}).createMachine({
  id: "searcher",
  context: ({ input }) => ({
    tree: input.tree,
    trialsPerTree: input.trialsPerTree,
    asks: [],
    replies: [],
    evaluated: [],
    wave: 0,
    policyVersion: "unknown",
    scorerVersion: undefined,
    tokens: 0,
    answer: undefined,
    solved: false,
    error: undefined,
  }),
  initial: "asking",
  states: {
    asking: {
      entry: "askMore",
      always: [{ guard: "nothingToAsk", target: "finishing" }, { target: "expanding" }],
    },
    expanding: {
      invoke: {
        src: "expandWave",
        input: ({ context }) => ({ tree: context.tree, asks: context.asks, wave: context.wave }),
        onDone: { target: "evaluating", actions: assign({ replies: ({ event }) => event.output }) },
        onError: { target: "failed", actions: assign({ error: ({ event }) => event.error }) },
      },
    },
    evaluating: {
      invoke: {
        src: "evaluateWave",
        input: ({ context }) => ({ asks: context.asks, replies: context.replies, wave: context.wave }),
        onDone: {
          target: "telling",
          actions: assign({
            evaluated: ({ event }) => event.output.candidates,
            scorerVersion: ({ context, event }) => event.output.scorerVersion ?? context.scorerVersion,
          }),
        },
        onError: { target: "failed", actions: assign({ error: ({ event }) => event.error }) },
      },
    },
    telling: {
      entry: "tellWave",
      always: "asking",
    },
    finishing: {
      invoke: {
        src: "finish",
        input: ({ context }) => ({ tree: context.tree }),
        onDone: {
          target: "done",
          actions: assign({
            answer: ({ event }) => event.output.answer,
            solved: ({ event }) => event.output.solved,
          }),
        },
        onError: { target: "failed", actions: assign({ error: ({ event }) => event.error }) },
      },
    },
    done: { type: "final" },
    failed: { type: "final" },
  },
  output: ({ context }) =>
    context.error !== undefined ? { error: context.error } : {
      tree: context.tree,
      ...(context.answer === undefined ? {} : { answer: context.answer }),
      solved: context.solved,
      policyVersion: context.policyVersion,
      ...(context.scorerVersion === undefined ? {} : { scorerVersion: context.scorerVersion }),
      tokens: context.tokens,
    },
});
