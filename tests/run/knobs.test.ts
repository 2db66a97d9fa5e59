/**
 * Search knobs set while a run goes (`rstar ctl set`) are recorded and set again when the run is
 * resumed: over NATS the run's control state takes them (and reports each new one), in one
 * process its actor searches use them. The NATS case needs NATS on 127.0.0.1:4222
 * (`RSTAR_NATS_URL` to override).
 */
import { Result } from "effect";
import { assert, describe, it } from "vitest";
import type { SearchOutcome, ServiceContext } from "../../actors/coordinator.ts";
import { generateProblems } from "../../math/generator.ts";
import { call } from "../../protocols/codec.ts";
import { SetReply, SetRequest, StatusReply, StatusRequest } from "../../protocols/messages.ts";
import { connectNatsBus } from "../../protocols/natsBus.ts";
import { runSubjects } from "../../protocols/subjects.ts";
import { resolveConfig } from "../../scripts/run/config.ts";
import { createLocalServices } from "../../scripts/run/localServices.ts";
import { natsUrl as url, removeRunStore } from "../helpers/evolveProcess.ts";

const ctx = {
  progress: { phase: () => ({ tick: () => {}, done: () => {} }) },
} as unknown as ServiceContext;

describe("knobs across a resume", () => {
  it("over NATS, the run's status shows the restored knobs and each knob set afterwards is recorded once", async () => {
    const run = `knobs-${Deno.pid}`;
    const warnings: string[] = [];
    const services = createLocalServices({
      nats: { url, run, workers: 0 },
      warn: (l) => warnings.push(l),
    });
    const nats = await connectNatsBus(url, { log: () => {} });
    const recorded: [string, number][] = [];
    try {
      await services.start(resolveConfig("smoke", { rounds: 1 }));
      services.knobs!({ rollouts: 7, bogus: 3 }, (k, v) => recorded.push([k, v]));
      const s = runSubjects(run);
      const status = Result.getOrThrow(
        await call(nats, s.control("status"), StatusRequest, StatusReply, { v: 2, id: "st" }, {
          timeoutMs: 2000,
        }),
      );
      assert.deepEqual(
        status.knobs,
        { rollouts: 7 },
        "a restored knob holds; one no run can have is left out",
      );
      assert.deepEqual(warnings, [
        'ledger knob-set bogus=3 left out: Unknown knob "bogus": expected one of rollouts, k, c, temperature',
      ]);
      const set = (key: "k" | "rollouts", value: number, id: string) =>
        call(nats, s.control("set"), SetRequest, SetReply, { v: 2, id, key, value }, {
          timeoutMs: 2000,
        });
      assert.equal(Result.getOrThrow(await set("k", 3, "a")).previous, undefined);
      assert.equal(Result.getOrThrow(await set("rollouts", 7, "b")).previous, 7);
      assert.equal(Result.getOrThrow(await set("rollouts", 9, "c")).previous, 7);
      assert.deepEqual(
        recorded,
        [["k", 3], ["rollouts", 9]],
        "setting a knob to the value it has records nothing",
      );
    } finally {
      await services.close();
      await nats.close();
      await removeRunStore(run).catch(() => {});
    }
  });

  it("in one process, a restored rollouts knob is what the round's search spends", async () => {
    const config = resolveConfig("smoke");
    const problems = generateProblems({ count: 3, seed: 4, level: 4, split: "train" });
    const rollouts = async (restored: Record<string, number>) => {
      const services = createLocalServices();
      const out: SearchOutcome[] = [];
      try {
        await services.start(config);
        services.knobs!(restored, () => assert.fail("nothing sets a knob in one process"));
        await services.search(
          {
            round: 1,
            phase: "train",
            problems,
            knobs: config.search.bootstrap,
            policy: { kind: "bootstrap" },
            seed: 5,
            sftPerProblem: 2,
            pairs: { margin: 0.5, perSide: 2 },
            concurrency: 3,
          },
          (r) => {
            out.push(r);
            return Promise.resolve();
          },
          ctx,
        );
      } finally {
        await services.close();
      }
      return out.map((r) => r.rollouts);
    };
    assert.deepEqual(await rollouts({ rollouts: 2 }), [2, 2, 2]);
    assert.isTrue(
      (await rollouts({})).some((n) => n > 2),
      `the preset spends up to ${config.search.bootstrap.rollouts}`,
    );
  });
});
