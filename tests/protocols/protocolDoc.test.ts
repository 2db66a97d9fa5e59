import { Result, Schema } from "effect";
import { assert, describe, it } from "vitest";
import { catalog } from "../../protocols/catalog.ts";
import { decodeValue, type MessageSchema } from "../../protocols/codec.ts";
import { EventKinds } from "../../protocols/subjects.ts";
import { parseChaosSpec } from "../../protocols/chaosBus.ts";
import { EXAMPLE_CHAOS, jsonSchemaOf, PROTOCOL_DOC_PATH, renderProtocolDoc } from "../../scripts/gen-protocol-doc.ts";

describe("docs/PROTOCOL.md", () => {
  it("matches what scripts/gen-protocol-doc.ts generates from the schemas", async () => {
    const committed = await Deno.readTextFile(new URL(`../../${PROTOCOL_DOC_PATH}`, import.meta.url));
    assert.isTrue(
      committed === renderProtocolDoc(),
      "Regenerate docs/PROTOCOL.md: node_modules/.bin/deno run -A scripts/gen-protocol-doc.ts",
    );
  });

  it("shows examples that decode with their schemas and survive encoding unchanged", () => {
    for (const e of catalog) {
      for (const m of [e.message, ...(e.reply ? [e.reply] : [])]) {
        const schema = m.schema as MessageSchema<unknown>;
        const r = decodeValue(schema, m.example);
        if (Result.isFailure(r)) assert.fail(`${m.name} example: ${r.failure.message}`);
        assert.deepEqual(Schema.encodeSync(schema)(r.success), m.example, `${m.name} example loses fields`);
      }
    }
  });

  it("gives every message a JSON Schema that requires v", () => {
    for (const e of catalog) {
      const js = jsonSchemaOf(e.message.schema);
      const branches = (js.anyOf ?? js.oneOf ?? [js]) as { required?: string[] }[];
      for (const b of branches) assert.include(b.required ?? [], "v", `${e.message.name} must require v`);
    }
  });

  it("shows chaos specs that parse", () => {
    const specs = [EXAMPLE_CHAOS, ...catalog.filter((e) => e.message.name === "ChaosRequest").map((e) => (e.message.example as { spec: string }).spec)];
    for (const text of specs) assert.isTrue(Result.isSuccess(parseChaosSpec(text)), text);
  });

  it("documents every event kind", () => {
    const doc = renderProtocolDoc();
    for (const k of EventKinds) assert.include(doc, `rstar.<run>.events.${k}`);
  });
});
