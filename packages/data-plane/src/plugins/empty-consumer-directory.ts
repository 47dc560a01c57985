import type { ConsumerDirectoryView } from './plugin-context.js';

const NO_GROUPS: readonly string[] = Object.freeze([]);

/** The directory of a config without consumers: every lookup misses. */
export const EMPTY_CONSUMER_DIRECTORY: ConsumerDirectoryView = Object.freeze({
  keyAuthCredential: () => undefined,
  basicAuthCredential: () => undefined,
  consumer: () => undefined,
  anonymousConsumer: () => undefined,
  groupsOf: () => NO_GROUPS,
});
