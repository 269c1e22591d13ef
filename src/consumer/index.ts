export { consume } from "./consume.js";
export { deadLetterSubject, defaultDeadLetterStream, type DeadLetter } from "./dead-letter.js";
export { PoisonEventError } from "./decode.js";
export type {
  ConsumeOptionsBase,
  ConsumerContext,
  ConsumerStats,
  EventSchemaMap,
  HeraldConsumer,
  HeraldEvent,
  HeraldEventBase,
  PlainConsumeOptions,
  TransactionalConsumeOptions,
  TransactionalContext,
} from "./types.js";
