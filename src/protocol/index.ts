export * from "./subjects.js";
export * from "./headers.js";
export type * from "./replies.js";
export { REJECTED_STATUS } from "./replies.js";
