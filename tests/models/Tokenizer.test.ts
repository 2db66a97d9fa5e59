import { assert, describe, it } from "vitest";
import { renderStep } from "../../math/contracts.ts";
import { generateProblems } from "../../math/generator.ts";
import { BOS, EOS, numberSlots, parseStep, SEP, STEP, Tokenizer, UNK } from "../../models/tokenizer.ts";

const tok = Tokenizer.forDomain();

describe("Tokenizer", () => {
  it("forDomain() is deterministic and round-trips through JSON", () => {
    const again = Tokenizer.forDomain();
    assert.deepEqual(again.vocab, tok.vocab);
    const restored = Tokenizer.fromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
    assert.deepEqual(restored.vocab, tok.vocab);
  });

  it("decode(encode(step)) gives back every reference step of unseen problems exactly", () => {
    for (const p of generateProblems({ count: 150, seed: 77, split: "test" })) {
      const slots = numberSlots(p.problem);
      for (const s of p.solution!) {
        const text = renderStep(s);
        assert.equal(tok.decode(tok.encodeText(text, slots), slots), text);
      }
      assert.equal(tok.decode(tok.encodeText(p.problem, slots), slots), p.problem);
    }
  });

  it("a number from the problem becomes the same slot token in the code", () => {
    const problem = "Tom has 123456789 pens and 7 cups.";
    const slots = numberSlots(problem);
    assert.deepEqual(slots, ["123456789", "7"]);
    const inProblem = tok.encodeText(problem, slots);
    const inCode = tok.encodeText("x = 123456789 + 7", slots);
    const slot0 = tok.id(" <n_0>")!;
    assert.include(inProblem, slot0);
    assert.include(inCode, slot0);
    // A number not in the problem is spelled with digits and still decodes.
    const spelled = tok.encodeText("y = 4096", slots);
    assert.equal(tok.decode(spelled, slots), "y = 4096");
    assert.isAbove(spelled.length, 3);
  });

  it("unknown words become <unk> instead of failing", () => {
    const ids = tok.encodeText("zyzzyva quux", []);
    assert.deepEqual(ids, [UNK, UNK]);
  });

  it("encodeExample() puts loss only on solution tokens and ends with <eos>", () => {
    const steps = [{ text: "first", code: "a = 2" }, { text: "answer", code: "print(a + 3)" }];
    const e = tok.encodeExample("Add 2 and 3.", steps);
    assert.equal(e.ids[0], BOS);
    assert.equal(e.ids[e.promptLength - 1], SEP);
    assert.equal(e.ids.filter((x) => x === STEP).length, 1);
    assert.equal(e.ids[e.ids.length - 1], EOS);
    assert.equal(e.lossMask.slice(0, e.promptLength).reduce((a, b) => a + b, 0), 0);
    assert.equal(e.lossMask.slice(e.promptLength).reduce((a, b) => a + b, 0), e.ids.length - e.promptLength);
  });

  it("parseStep() splits the comment line from the code", () => {
    assert.deepEqual(parseStep("# Add them\nx = 1 + 2\nprint(x)"), { text: "Add them", code: "x = 1 + 2\nprint(x)" });
    assert.deepEqual(parseStep("x = 3"), { text: "", code: "x = 3" });
  });

  it("fromJSON() rejects a tokenizer without the special tokens", () => {
    assert.throws(() => Tokenizer.fromJSON({ format: "rstar-tokenizer/1", slots: 2, vocab: ["a", "b"] }), /Cannot read tokenizer/);
  });
});
