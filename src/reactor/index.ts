export { react, type ReactOptions, type ReactorContext, type ReactorRejection } from "./react.js";
export { reactionKey } from "./reaction-key.js";
