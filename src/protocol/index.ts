export * from "./subjects.js";
export * from "./headers.js";
export type * from "./replies.js";
export { REJECTED_STATUS } from "./replies.js";
export * from "./applied.js";
export * from "./streams.js";
export * from "./services.js";
export { ConsistencyTokenError, decodeConsistencyToken, encodeConsistencyToken, type ConsistencyToken, type TokenContents } from "./consistency-token.js";
