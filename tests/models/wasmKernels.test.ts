import * as tf from "@tensorflow/tfjs";
import { readFile } from "node:fs/promises";
import { assert, beforeAll, describe, it } from "vitest";
import { initBackend } from "../../models/backend.ts";
import { batchMatMul, fastKernels, gatherRows, scatterAddRows } from "../../models/kernels/wasmKernels.ts";
import { bmm } from "../../models/transformer.ts";
import { assemble, KERNELS, moduleText } from "../../scripts/gen-kernels.ts";

/** Largest |x − y| over two tensors of one shape. */
function maxDiff(x: tf.Tensor, y: tf.Tensor): number {
  assert.deepEqual(x.shape, y.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0]!);
}

describe("batchMatMul (attention's batched products)", () => {
  beforeAll(async () => {
    assert.equal(await initBackend("wasm"), "wasm");
  });

  it("runs the SIMD kernel on the wasm backend", () => {
    assert.isTrue(fastKernels());
  });

  it("gives tf.matMul's products for shapes on and off its 4×4 tiles, with A transposed or not", () => {
    const shapes: [number, number, number, number][] = [
      [1, 1, 1, 1], [3, 5, 7, 9], [2, 8, 12, 63], [4, 63, 63, 12], [2, 12, 63, 64], [128, 17, 12, 17],
      [64, 37, 12, 1], [64, 1, 37, 12], [5, 2, 9, 7], [3, 6, 5, 2],
    ];
    for (const [n, m, k, p] of shapes) {
      for (const aT of [false, true]) {
        tf.tidy(() => {
          const a = tf.randomNormal(aT ? [n, k, m] : [n, m, k], 0, 1, "float32", 1) as tf.Tensor3D;
          const b = tf.randomNormal([n, k, p], 0, 1, "float32", 2) as tf.Tensor3D;
          const got = batchMatMul(a, b, aT);
          assert.isBelow(maxDiff(got, tf.matMul(a, b, aT, false)), 1e-4, `[${n},${m},${k},${p}] aT=${aT}`);
        });
      }
    }
  });

  it("keeps working after the backend's memory grows", () => {
    const before = tf.memory().numTensors;
    const big = tf.zeros([64 * 1024 * 1024]); // 256 MiB: the wasm heap has to grow
    tf.tidy(() => {
      const a = tf.randomNormal([8, 9, 10], 0, 1, "float32", 3) as tf.Tensor3D;
      const b = tf.randomNormal([8, 10, 11], 0, 1, "float32", 4) as tf.Tensor3D;
      assert.isBelow(maxDiff(batchMatMul(a, b), tf.matMul(a, b)), 1e-4);
    });
    big.dispose();
    assert.equal(tf.memory().numTensors, before);
  });

  it("leaves the tensor count flat across many calls, gradients included", () => {
    const a = tf.variable(tf.randomNormal([16, 20, 12], 0, 1, "float32", 5));
    const b = tf.variable(tf.randomNormal([16, 12, 20], 0, 1, "float32", 6));
    const once = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(bmm(a, b))) as tf.Scalar, [a, b]);
      tf.dispose([value, ...Object.values(grads)]);
    };
    once();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) once();
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([a, b]);
  });

  it("differentiates as tf.matMul does (attention's scores and weighted sums)", () => {
    for (const [n, m, k, p] of [[6, 13, 12, 13], [4, 9, 9, 12]] as const) {
      const a = tf.variable(tf.randomNormal([n, m, k], 0, 1, "float32", 7));
      const b = tf.variable(tf.randomNormal([n, k, p], 0, 1, "float32", 8));
      const w = tf.randomNormal([n, m, p], 0, 1, "float32", 9);
      const loss = (f: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor) => () => tf.sum(tf.mul(f(a, b), w)) as tf.Scalar;
      const fast = tf.variableGrads(loss(bmm), [a, b]);
      const ref = tf.variableGrads(loss((x, y) => tf.matMul(x, y)), [a, b]);
      assert.isBelow(Math.abs(fast.value.dataSync()[0]! - ref.value.dataSync()[0]!), 1e-3);
      for (const v of [a, b]) assert.isBelow(maxDiff(fast.grads[v.name]!, ref.grads[v.name]!), 1e-4);
      tf.dispose([a, b, w, fast.value, ref.value, ...Object.values(fast.grads), ...Object.values(ref.grads)]);
    }
  });

  it("refuses shapes that do not multiply, naming them", () => {
    tf.tidy(() => {
      const err = assert.throws(() => batchMatMul(tf.zeros([2, 3, 4]), tf.zeros([2, 5, 6])), RangeError);
      assert.match(String(err), /\[2,3,4\].*\[2,5,6\]/);
      assert.throws(() => batchMatMul(tf.zeros([2, 3, 4]), tf.zeros([3, 4, 6])), RangeError);
    });
  });
});

describe("gatherRows (embedding rows, attention caches tiled to sample rows)", () => {
  beforeAll(async () => {
    assert.equal(await initBackend("wasm"), "wasm");
  });

  it("gives tf.gather's rows along the first axis, repeats and any order included", () => {
    tf.tidy(() => {
      const idx = tf.tensor1d([3, 0, 0, 2, 3, 1], "int32");
      for (const shape of [[4], [4, 5], [4, 2, 3, 2]]) {
        const x = tf.randomNormal(shape, 0, 1, "float32", 10);
        assert.deepEqual(gatherRows(x, idx).arraySync(), tf.gather(x, idx).arraySync());
      }
      const ints = tf.tensor2d([[1, 2], [3, 4]], [2, 2], "int32");
      const got = gatherRows(ints, tf.tensor1d([1, 1, 0], "int32"));
      assert.equal(got.dtype, "int32");
      assert.deepEqual(got.arraySync(), [[3, 4], [3, 4], [1, 2]]);
      assert.deepEqual(gatherRows(ints, tf.tensor1d([], "int32")).shape, [0, 2]);
    });
  });

  it("refuses a row out of range, leaving no tensor behind", () => {
    const x = tf.zeros([3, 2]);
    const idx = tf.tensor1d([0, 3], "int32");
    const before = tf.memory().numTensors;
    const err = assert.throws(() => gatherRows(x, idx), RangeError);
    assert.match(String(err), /row 3 of a tensor with 3 rows/);
    assert.equal(tf.memory().numTensors, before);
    assert.throws(() => gatherRows(x, tf.tensor1d([0.5], "float32") as tf.Tensor1D), RangeError);
    tf.dispose([x, idx]);
  });
});

describe("the wasm kernels' bytes", () => {
  it("are the assembly of their committed sources (scripts/gen-kernels.ts)", async () => {
    for (const k of KERNELS) {
      const want = moduleText(k, await assemble(k.source, await readFile(k.source, "utf8")));
      assert.equal(await readFile(k.module, "utf8"), want, `${k.module}: run scripts/gen-kernels.ts`);
    }
  });
});

describe("scatterAddRows (the token embedding's gradient in training)", () => {
  beforeAll(async () => {
    assert.equal(await initBackend("wasm"), "wasm");
  });

  it("adds each row into the row its index names, as a one-hot product does, repeats included", () => {
    tf.tidy(() => {
      const x = tf.randomNormal([7, 5], 0, 1, "float32", 11) as tf.Tensor2D;
      const idx = tf.tensor1d([2, 0, 2, 5, 2, 0, 1], "int32");
      const want = tf.matMul(tf.transpose(tf.oneHot(idx, 6).asType("float32")), x);
      const got = scatterAddRows(x, idx, 6);
      assert.deepEqual(got.shape, [6, 5]);
      assert.isBelow(maxDiff(got, want), 1e-5);
      assert.deepEqual(Array.from(got.slice([3, 0], [1, 5]).dataSync()), [0, 0, 0, 0, 0]);
    });
  });

  it("makes training's token embedding differentiable as gathering's gradient", () => {
    const w = tf.variable(tf.randomNormal([9, 4], 0, 1, "float32", 12));
    const idx = tf.tensor1d([8, 1, 1, 0, 4], "int32");
    const r = tf.randomNormal([5, 4], 0, 1, "float32", 13);
    const pick = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [x, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
      save([idx]);
      return {
        value: gatherRows(x, idx),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [scatterAddRows(dy as tf.Tensor2D, saved[0] as tf.Tensor1D, 9)],
      };
    }) as unknown as (x: tf.Tensor) => tf.Tensor;
    const fast = tf.variableGrads(() => tf.sum(tf.mul(pick(w), r)) as tf.Scalar, [w]);
    const ref = tf.variableGrads(() => tf.sum(tf.mul(tf.matMul(tf.oneHot(idx, 9).asType("float32"), w), r)) as tf.Scalar, [w]);
    assert.isBelow(maxDiff(fast.grads[w.name]!, ref.grads[w.name]!), 1e-5);
    tf.dispose([w, idx, r, fast.value, ref.value, ...Object.values(fast.grads), ...Object.values(ref.grads)]);
  });

  it("refuses an index out of range or one index short, leaving no tensor behind", () => {
    const x = tf.zeros([2, 3]) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      assert.throws(() => scatterAddRows(x, tf.tensor1d([0, 4], "int32"), 4), /row 4 of 4 rows/);
      assert.throws(() => scatterAddRows(x, tf.tensor1d([0], "int32"), 4), RangeError);
      assert.throws(() => scatterAddRows(x, tf.tensor1d([0, 1], "int32"), -1), RangeError);
    });
    assert.equal(tf.memory().numTensors, before);
    x.dispose();
  });
});
