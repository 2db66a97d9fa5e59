/**
 * The safetensors container (little-endian F32 tensors after a JSON header, string metadata in
 * `__metadata__`), shared by model checkpoints (checkpoint.ts) and training states
 * (trainState.ts). Readers name what is wrong through the caller's `fail`, so each file format
 * reports its own error type.
 */

/** One tensor to write or as read. */
export interface F32Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

interface TensorEntry {
  readonly dtype: string;
  readonly shape: number[];
  readonly data_offsets: [number, number];
}

/** `tensors` (in order) as one safetensors blob with `metadata` in its header. */
export function encodeSafetensors(
  metadata: Readonly<Record<string, string>>,
  tensors: Iterable<readonly [string, F32Tensor]>,
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const datas: Float32Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = {
      dtype: "F32",
      shape: [...t.shape],
      data_offsets: [offset, offset + t.data.byteLength],
    };
    offset += t.data.byteLength;
    datas.push(t.data);
  }
  const hbytes = new TextEncoder().encode(JSON.stringify(header));
  // The data section starts on an 8-byte boundary; the header is padded with spaces.
  const pad = (8 - ((hbytes.length + 8) % 8)) % 8;
  const hlen = hbytes.length + pad;
  const out = new Uint8Array(8 + hlen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hlen), true);
  out.set(hbytes, 8);
  out.fill(0x20, 8 + hbytes.length, 8 + hlen);
  let pos = 8 + hlen;
  for (const d of datas) {
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  return out;
}

/**
 * Reads a safetensors blob: its `__metadata__` and its tensors (copied out of `bytes`). With
 * `names`, exactly those tensors are read (one the header lacks is an error); else every tensor
 * in the header. Every problem goes to `fail`, which must throw.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  fail: (reason: string) => never,
  names?: (metadata: Readonly<Record<string, unknown>>) => readonly string[],
): {
  metadata: Readonly<Record<string, unknown>>;
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
} {
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, too short for a safetensors header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlenBig = view.getBigUint64(0, true);
  if (hlenBig > BigInt(bytes.length - 8)) {
    fail(`header length ${hlenBig} exceeds the file (truncated?)`);
  }
  const hlen = Number(hlenBig);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + hlen)),
    );
  } catch (err) {
    return fail(`header is not valid JSON (${err instanceof Error ? err.message : err})`);
  }
  if (typeof header !== "object" || header === null) fail("header is not a JSON object");
  const metadata = (header.__metadata__ ?? {}) as Record<string, unknown>;
  const dataStart = 8 + hlen;
  const dataLen = bytes.length - dataStart;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  let covered = 0;
  const wanted = names ? names(metadata) : Object.keys(header).filter((k) => k !== "__metadata__");
  for (const name of wanted) {
    const e = header[name] as TensorEntry | undefined;
    if (e === undefined) fail(`tensor ${name} is listed in the config but missing from the header`);
    if (e!.dtype !== "F32") fail(`tensor ${name} has dtype ${e!.dtype}, expected F32`);
    const [b, en] = e!.data_offsets;
    const n = e!.shape.reduce((a, x) => a * x, 1);
    if (!(b >= 0 && en <= dataLen && en - b === n * 4)) {
      fail(
        `tensor ${name} has offsets [${b}, ${en}] outside the ${dataLen}-byte data section (truncated?)`,
      );
    }
    const copy = new Uint8Array(en - b);
    copy.set(bytes.subarray(dataStart + b, dataStart + en));
    tensors.set(name, { shape: e!.shape, data: new Float32Array(copy.buffer) });
    covered += en - b;
  }
  if (covered !== dataLen) fail(`data section is ${dataLen} bytes but tensors cover ${covered}`);
  return { metadata, tensors };
}
