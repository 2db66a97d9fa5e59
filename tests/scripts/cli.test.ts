import { assert, describe, it } from "vitest";
import { main } from "../../scripts/rstar.ts";
import { intOption, numberOption } from "../../scripts/cli.ts";

describe("rstar command line", () => {
  it("takes integer flags only as plain digits, so a typo is a usage error instead of another number", async () => {
    const count = intOption("--count");
    assert.equal(count("12"), 12);
    assert.equal(count(" 7 "), 7);
    for (const bad of ["", " ", "1e1", "0x10", "1.5", "-3", "abc"]) {
      assert.throws(() => count(bad), /--count must be an integer >= 0/, `"${bad}"`);
    }
    assert.throws(() => numberOption("--x")(""), /--x must be a number/);
    assert.equal(numberOption("--x")("0.5"), 0.5);
    assert.equal(await main(["gen", "--count", ""]), 2);
    assert.equal(await main(["evolve", "--seed", ""]), 2);
    assert.equal(await main(["gen", "--level", "6"]), 2);
  });

  it("answers help for an unknown command with a usage error, and help for a known one with its help", async () => {
    assert.equal(await main(["help", "nosuch"]), 2);
    assert.equal(await main(["nosuch"]), 2);
    assert.equal(await main(["help", "gen"]), 0);
  });

  it("needs --run for worker and ctl, which would otherwise wait on a run nobody started", async () => {
    assert.equal(await main(["worker", "--role", "expander", "--nats", "nats://127.0.0.1:1"]), 2);
    assert.equal(await main(["ctl", "status", "--nats", "nats://127.0.0.1:1"]), 2);
  });

  it("stops quietly with exit 0 when the reader of its output goes away (rstar gen | head -1)", async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "scripts/rstar.ts", "gen", "--count", "20000"],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.getReader();
    const first = await reader.read();
    assert.isFalse(first.done);
    await reader.cancel();
    const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
    assert.equal(stderr, "");
    assert.equal(status.code, 0);
  });
});
