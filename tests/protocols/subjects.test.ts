import { assert, describe, it } from "vitest";
import { runOfSubject, runSubjects, validateRunName } from "../../protocols/subjects.ts";

describe("runSubjects", () => {
  it("puts every subject of a run under rstar.<run>", () => {
    const s = runSubjects("demo-1");
    assert.equal(s.expand, "rstar.demo-1.expand");
    assert.equal(s.score, "rstar.demo-1.score");
    assert.equal(s.train, "rstar.demo-1.train");
    assert.equal(s.model, "rstar.demo-1.model");
    assert.equal(s.events("problem-solved"), "rstar.demo-1.events.problem-solved");
    assert.equal(s.control("chaos"), "rstar.demo-1.control.chaos");
    assert.equal(s.heartbeat, "rstar.demo-1.heartbeat");
    assert.equal(s.deadletter, "rstar.demo-1.deadletter");
    assert.equal(s.all, "rstar.demo-1.>");
  });

  it("refuses a run name that is not one NATS token", () => {
    for (const bad of ["", "a.b", "a b", "*", "run>", "x".repeat(65)]) {
      const e = validateRunName(bad);
      assert.equal(e?._tag, "InvalidRunName", `"${bad}" should be refused`);
      assert.match(e!.message, /^Choose another run name: /);
      assert.throws(() => runSubjects(bad), RangeError);
    }
    assert.isUndefined(validateRunName("Run_2026-01"));
  });

  it("reads the run back from a subject, and nothing from a foreign one", () => {
    assert.equal(runOfSubject("rstar.demo.expand"), "demo");
    assert.isUndefined(runOfSubject("other.demo.expand"));
    assert.isUndefined(runOfSubject("rstar.demo"));
  });
});
