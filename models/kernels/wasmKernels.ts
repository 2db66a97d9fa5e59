/**
 * Kernels that tfjs-wasm runs slowly, made fast on its backend: attention's batched matrix
 * products (`batchMatMul`), and the gathering of whole rows (`gatherRows`) with its gradient
 * (`scatterAddRows`).
 *
 * tfjs-wasm runs a matmul through XNNPACK only when it is a single (batch 1), untransposed
 * product; every batched product, such as attention's [batch·heads, T, d_head] ones, falls to a
 * scalar loop at about 2–3 GFLOP/s, against 20–40 for the dense layers. `batchMatMul` runs
 * them instead through a small hand-written SIMD kernel (models/kernels/bmm.wat, assembled by
 * scripts/gen-kernels.ts) that works in place on the backend's own memory, 4–8× faster at
 * attention's shapes (docs/BENCHMARKS.md, "Attention's batched products and row gathers").
 *
 * tfjs-wasm's GatherV2 moves one element at a time (about 35 ns each): gathering the token
 * embedding rows of a prefill, or tiling a prompt's attention cache to its sample rows, took
 * longer than the layers' products. `gatherRows` copies each row as one block, and
 * `scatterAddRows`, its gradient, adds each row into place (training's token embedding, which
 * took two products with a one-hot [tokens, vocabulary] matrix).
 *
 * On another backend, or where the wasm backend's memory is out of reach, or with
 * RSTAR_WASM_KERNELS=0 in the environment, they are `tf.matMul`, `tf.gather` and a one-hot
 * product: the same results, summed in another order.
 */
import * as tf from "@tensorflow/tfjs";
import process from "node:process";
import { BMM_WASM_BASE64 } from "./bmmWasm.ts";

const BMM_KERNEL = "RstarBatchMatMul";
const GATHER_KERNEL = "RstarGatherRows";
const SCATTER_KERNEL = "RstarScatterAddRows";

type BmmFn = (
  a: number,
  b: number,
  c: number,
  batch: number,
  m: number,
  k: number,
  n: number,
  aT: number,
) => void;

/** The parts of tfjs-wasm's backend object the kernel uses. */
interface WasmBackendLike {
  readonly wasm?: { readonly asm?: { readonly memory?: unknown } };
  readonly dataIdMap: { get(dataId: object): { readonly memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

let moduleBytes: WebAssembly.Module | undefined;
const instances = new WeakMap<WebAssembly.Memory, BmmFn>();
let registered = false;
/** Read once: RSTAR_WASM_KERNELS=0 turns the kernel off (benchmarks compare both). */
const disabled = process.env.RSTAR_WASM_KERNELS?.trim() === "0";

/** The kernel bound to a backend's memory; undefined where that memory cannot be reached. */
function kernelFor(backend: unknown): BmmFn | undefined {
  const memory = (backend as WasmBackendLike | undefined)?.wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return undefined;
  let fn = instances.get(memory);
  if (fn === undefined) {
    if (moduleBytes === undefined) {
      const bin = atob(BMM_WASM_BASE64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      moduleBytes = new WebAssembly.Module(bytes);
    }
    const inst = new WebAssembly.Instance(moduleBytes, { env: { memory } });
    fn = inst.exports.bmm as BmmFn;
    instances.set(memory, fn);
  }
  return fn;
}

/**
 * A row kernel's indices, copied off the heap, each checked to lie in [0, n) before anything is
 * allocated (so a refusal leaves no tensor behind); `message` words the RangeError.
 */
function rowIndices(be: WasmBackendLike, indices: tf.TensorInfo, n: number, message: (i: number) => string): Int32Array {
  const idx = Int32Array.from(be.typedArrayFromHeap(indices));
  const bad = idx.find((i) => !(i >= 0 && i < n));
  if (bad !== undefined) throw new RangeError(message(bad));
  return idx;
}

function register(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({
    kernelName: GATHER_KERNEL,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend }) => {
      const { x, indices } = inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
      const be = backend as unknown as WasmBackendLike;
      const n = x.shape[0]!;
      const rest = x.shape.slice(1);
      const width = rest.reduce((a, d) => a * d, 1);
      const idx = rowIndices(be, indices, n, (i) => `Cannot gather row ${i} of a tensor with ${n} rows`);
      const out = be.makeOutput([idx.length, ...rest], x.dtype);
      // Views after makeOutput, which may grow (and so replace) the heap's buffer.
      const src = be.typedArrayFromHeap(x);
      const dst = be.typedArrayFromHeap(out);
      idx.forEach((i, r) => dst.set(src.subarray(i * width, (i + 1) * width), r * width));
      return out;
    },
  });
  tf.registerKernel({
    kernelName: SCATTER_KERNEL,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, indices } = inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
      const n = (attrs as { rows: number }).rows;
      const be = backend as unknown as WasmBackendLike;
      const width = x.shape[1]!;
      const idx = rowIndices(be, indices, n, (i) => `Cannot add into row ${i} of ${n} rows`);
      const out = be.makeOutput([n, width], "float32");
      const src = be.typedArrayFromHeap(x) as Float32Array;
      const dst = be.typedArrayFromHeap(out) as Float32Array;
      dst.fill(0);
      idx.forEach((i, r) => {
        const to = i * width;
        const from = r * width;
        for (let j = 0; j < width; j++) dst[to + j]! += src[from + j]!;
      });
      return out;
    },
  });
  tf.registerKernel({
    kernelName: BMM_KERNEL,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const aT = (attrs as { transposeA?: boolean } | undefined)?.transposeA === true;
      const be = backend as unknown as WasmBackendLike;
      const bmm = kernelFor(be)!;
      const [batch, rows, cols] = a.shape as [number, number, number];
      const [m, k] = aT ? [cols, rows] : [rows, cols];
      const n = b.shape[2]!;
      const out = be.makeOutput([batch, m, n], "float32");
      const at = (t: tf.TensorInfo) => be.dataIdMap.get(t.dataId)!.memoryOffset;
      bmm(at(a), at(b), at(out), batch, m, k, n, aT ? 1 : 0);
      return out;
    },
  });
}

/** Whether the kernels here run on the active backend (else they are TF.js's own ops). */
export function fastKernels(): boolean {
  return !disabled && tf.getBackend() === "wasm" && kernelFor(tf.backend()) !== undefined;
}

/**
 * op(a) · b for float32 `a` [batch, m, k] (or [batch, k, m] with `transposeA`) and `b`
 * [batch, k, n]: [batch, m, n]. Mismatched shapes are a caller bug (RangeError). No gradient
 * of its own: differentiable callers wrap it in `tf.customGrad`.
 */
export function batchMatMul(a: tf.Tensor3D, b: tf.Tensor3D, transposeA = false): tf.Tensor3D {
  const inner = transposeA ? a.shape[1] : a.shape[2];
  if (a.rank !== 3 || b.rank !== 3 || a.shape[0] !== b.shape[0] || inner !== b.shape[1]) {
    throw new RangeError(
      `Cannot multiply batched matrices of shapes [${a.shape}]${transposeA ? "ᵀ" : ""} and [${b.shape}]`,
    );
  }
  if (a.dtype !== "float32" || b.dtype !== "float32" || !fastKernels()) {
    return tf.matMul(a, b, transposeA, false);
  }
  register();
  return tf.engine().runKernel(BMM_KERNEL, { a, b }, { transposeA }) as tf.Tensor3D;
}

/**
 * Rows `indices` (int32, 1-D) of `x` along its first axis: `tf.gather(x, indices)`. An index out
 * of range is a RangeError. No gradient.
 */
export function gatherRows<T extends tf.Tensor>(x: T, indices: tf.Tensor1D): T {
  if (indices.rank !== 1 || indices.dtype !== "int32" || x.rank < 1) {
    throw new RangeError(
      `Cannot gather rows: need int32 indices of rank 1 and x of rank 1 or more, got ${indices.dtype} [${indices.shape}] and [${x.shape}]`,
    );
  }
  if (x.dtype === "string" || x.dtype === "complex64" || !fastKernels()) return tf.gather(x, indices);
  register();
  return tf.engine().runKernel(GATHER_KERNEL, { x, indices }) as T;
}

/**
 * `n` rows, row i the sum of the rows r of float32 `x` [rows, width] with `indices[r]` = i (in
 * order of r), as `tf.unsortedSegmentSum(x, indices, n)`: the gradient of `gatherRows`. An
 * index out of range is a RangeError.
 */
export function scatterAddRows(x: tf.Tensor2D, indices: tf.Tensor1D, n: number): tf.Tensor2D {
  if (x.rank !== 2 || indices.rank !== 1 || indices.dtype !== "int32" || indices.shape[0] !== x.shape[0]) {
    throw new RangeError(
      `Cannot add rows into place: need x of rank 2 and one int32 index per row, got [${x.shape}] and ${indices.dtype} [${indices.shape}]`,
    );
  }
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`Cannot add rows into place: ${n} rows`);
  if (x.dtype !== "float32" || !fastKernels()) {
    // A one-hot product (tfjs-wasm has no UnsortedSegmentSum), transposed explicitly: XNNPACK
    // takes untransposed products only.
    return tf.tidy(() => tf.matMul(tf.transpose(tf.oneHot(indices, n).asType("float32")), x));
  }
  register();
  return tf.engine().runKernel(SCATTER_KERNEL, { x, indices }, { rows: n }) as tf.Tensor2D;
}
