/** Reactor names: like durable names, since the reactor is a durable consumer of that name. */
export const REACTOR_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The idempotency key of the `step`-th command (0 first) a reactor sends for
 * one event: `<reactor>:<event id>:<step>`. The same event always yields the
 * same keys, so a redelivery or a restarted reactor sends duplicates that the
 * target domain answers from its idempotency store; two events, or two
 * reactors, never share a key. At most 64 + 36 + 10 + 2 visible ASCII characters.
 */
export function reactionKey(reactor: string, eventId: string, step: number): string {
  if (!REACTOR_NAME.test(reactor)) throw new TypeError(`react: name "${reactor}" must be 1-64 characters of A-Z, a-z, 0-9, _ and -`);
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`react: step must be an integer >= 0, got ${step}`);
  return `${reactor}:${eventId.toLowerCase()}:${step}`;
}
