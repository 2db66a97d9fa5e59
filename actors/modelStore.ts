/**
 * Where model weights live in a run's BlobStore: `models/<name>/<version>` holds a checkpoint
 * (models/checkpoint.ts `toBytes`), and `models/<name>/latest` holds the newest version's name.
 * Workers load the latest at start and any announced version later.
 */
import type { BlobStore } from "../protocols/bus.ts";

/** Blob name of a model version's weights. */
export function modelBlobName(name: string, version: string): string {
  return `models/${name}/${version}`;
}

/** Stores a version's weights and makes it the latest; returns the blob name. */
export async function putModel(blobs: BlobStore, name: string, version: string, bytes: Uint8Array): Promise<string> {
  const blob = modelBlobName(name, version);
  await blobs.put(blob, bytes);
  await blobs.put(`models/${name}/latest`, new TextEncoder().encode(version));
  return blob;
}

/** The latest published version of a model, if any. */
export async function latestVersion(blobs: BlobStore, name: string): Promise<string | undefined> {
  const bytes = await blobs.get(`models/${name}/latest`);
  return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
}

/** A version's weights, or a tagged error when there are none. */
export async function getModel(
  blobs: BlobStore,
  name: string,
  version: string,
): Promise<Uint8Array | { readonly _tag: "ModelMissing"; readonly message: string }> {
  const bytes = await blobs.get(modelBlobName(name, version));
  if (bytes === undefined) {
    return { _tag: "ModelMissing", message: `Publish the model first: no weights for ${name} ${version}` };
  }
  return bytes;
}
