import { assert, describe, it } from "vitest";
describe("x", () => { it("y", () => { assert.equal(1 + 1, 2); }); });
