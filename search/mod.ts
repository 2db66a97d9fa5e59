/** The search layer's public surface: the tree, its ask/tell cycle, extraction and strategies. */
export * from "./types.ts";
export * from "./SearchTree.ts";
export * from "./extract.ts";
export * from "./strategies.ts";
