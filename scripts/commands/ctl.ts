/**
 * `rstar ctl status|pause|resume|set KEY=VALUE|chaos SPEC --nats URL --run NAME`: sends one
 * `.control.*` request to a running system and prints its reply as one JSON line. A bad KEY,
 * VALUE or chaos SPEC exits 2 with a one-line reason before anything is sent; no answer, or a
 * refusal (e.g. kill-worker for a run without worker processes), exits 1.
 */
import { Command, InvalidArgumentError } from "commander";
import { Result } from "effect";
import { checkKnob, parseKnob } from "../../actors/controlState.ts";
import type { MessageSchema } from "../../protocols/codec.ts";
import { call } from "../../protocols/codec.ts";
import { ControlMessages, PROTOCOL_VERSION } from "../../protocols/messages.ts";
import { connectNatsBus } from "../../protocols/natsBus.ts";
import { runSubjects } from "../../protocols/subjects.ts";
import { parseChaosSpec } from "../../protocols/chaosBus.ts";
import { CommandFailed, intOption, writeLine } from "../cli.ts";
import { runOption } from "./worker.ts";

/** The verbs `ctl` sends. */
const verbs = ["status", "pause", "resume", "set", "chaos"] as const;
type Verb = (typeof verbs)[number];

interface CtlOptions {
  nats: string;
  run: string;
  timeoutMs: number;
}

/** Builds the request body of a verb from its arguments (usage errors throw `InvalidArgumentError`). */
export function controlBody(verb: string, args: readonly string[]): { verb: Verb; body: Record<string, unknown> } {
  if (verb === "solve") {
    throw new InvalidArgumentError('Ask with rstar solve --nats URL --run NAME "PROBLEM": it prints the steps and the answer');
  }
  if (!(verbs as readonly string[]).includes(verb)) {
    throw new InvalidArgumentError(`Choose a verb: expected one of ${verbs.join("|")}, got "${verb}"`);
  }
  const v = verb as Verb;
  if (v === "chaos") {
    if (args.length !== 1) throw new InvalidArgumentError('Give one chaos SPEC, e.g. "drop=0.1,delay=0-50ms" ("none" stops the faults)');
    const spec = parseChaosSpec(args[0]!);
    if (Result.isFailure(spec)) throw new InvalidArgumentError(spec.failure.message);
    return { verb: v, body: { spec: args[0]! } };
  }
  if (v !== "set") {
    if (args.length > 0) throw new InvalidArgumentError(`Remove the extra arguments: ${v} takes none, got ${args.join(" ")}`);
    return { verb: v, body: {} };
  }
  if (args.length !== 1) throw new InvalidArgumentError("Give one KEY=VALUE to set, e.g. rollouts=16");
  const knob = parseKnob(args[0]!);
  if ("_tag" in knob) throw new InvalidArgumentError(knob.message);
  const checked = checkKnob(knob.key, knob.value);
  if ("_tag" in checked) throw new InvalidArgumentError(checked.message);
  return { verb: v, body: { key: checked.key, value: checked.value } };
}

/** Builds the `ctl` subcommand. */
export function command(): Command {
  const cmd: Command = new Command("ctl")
    .description(
      "steer a running system: status, pause, resume, set KEY=VALUE (rollouts, k, c, temperature), chaos SPEC (faults, docs/CHAOS.md)",
    )
    .argument("<verb>", verbs.join("|"))
    .argument("[args...]", "KEY=VALUE for set, SPEC for chaos")
    .requiredOption("--nats <url>", "NATS server URL, e.g. nats://127.0.0.1:4222")
    .requiredOption("--run <name>", "the run's name: the last segment of its evolve --run DIR", runOption)
    .option("--timeout-ms <n>", "how long to wait for the reply", intOption("--timeout-ms", 1), 5000)
    .action(async (verb: string, args: string[], opts: CtlOptions) => {
      let parsed;
      try {
        parsed = controlBody(verb, args);
      } catch (err) {
        if (err instanceof InvalidArgumentError) cmd.error(`error: ${err.message}`, { exitCode: 2, code: "rstar.ctl.usage" });
        throw err;
      }
      const bus = await connectNatsBus(opts.nats, { log: () => {}, maxReconnectAttempts: 0 }).catch((err) => {
        throw new CommandFailed(`Cannot connect to NATS at ${opts.nats}: ${err instanceof Error ? err.message : String(err)}`);
      });
      try {
        const m = ControlMessages[parsed.verb] as unknown as { request: MessageSchema<unknown>; reply: MessageSchema<unknown> };
        const id = `ctl-${Deno.pid}-${Date.now()}`;
        const rep = await call(bus, runSubjects(opts.run).control(parsed.verb), m.request, m.reply, {
          v: PROTOCOL_VERSION,
          id,
          ...parsed.body,
        }, { timeoutMs: opts.timeoutMs, retries: 2 });
        if (Result.isFailure(rep)) {
          const err = rep.failure;
          if (err._tag === "BusError" && err.reason === "NoResponders") {
            throw new CommandFailed(
              `Cannot ${parsed.verb} run ${opts.run}: nothing answers ${runSubjects(opts.run).control(parsed.verb)} at ${opts.nats}; is \`rstar evolve --nats ${opts.nats}\` running with a --run folder named ${opts.run}?`,
            );
          }
          throw new CommandFailed(`Cannot ${parsed.verb} run ${opts.run}: ${err.message}`);
        }
        await writeLine(JSON.stringify(rep.success));
      } finally {
        await bus.close();
      }
    });
  return cmd;
}
