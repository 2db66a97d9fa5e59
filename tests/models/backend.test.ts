import * as tf from "@tensorflow/tfjs";
import { assert, describe, it } from "vitest";
import { BackendUnavailable, initBackend } from "../../models/backend.ts";

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  return undefined;
}

describe("initBackend", () => {
  it("activates the backend it reports", async () => {
    const name = await initBackend();
    assert.include(["tensorflow", "wasm", "cpu"], name);
    assert.equal(tf.getBackend(), name);
    const sum = tf.tidy(() => tf.add(tf.scalar(2), tf.scalar(3)).dataSync()[0]);
    assert.equal(sum, 5);
  });

  it("loads the wasm backend from node_modules when asked", async () => {
    assert.equal(await initBackend("wasm"), "wasm");
    assert.equal(tf.getBackend(), "wasm");
  });

  it("rejects an unknown backend with a message naming it", async () => {
    const err = await rejection(initBackend("quantum"));
    assert.instanceOf(err, BackendUnavailable);
    assert.match((err as Error).message, /^Cannot load TF\.js backend "quantum": unknown backend/);
  });

  it("never falls back silently when tensorflow is requested", async () => {
    const err = await rejection(initBackend("tensorflow"));
    if (err === undefined) assert.equal(tf.getBackend(), "tensorflow");
    else assert.equal((err as BackendUnavailable)._tag, "BackendUnavailable");
  });
});
