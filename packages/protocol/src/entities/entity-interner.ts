/** The values the entities of one decoded batch share (see {@link EntityInterner}). */
import type { ForeignKey } from './types.js';

/** The shared empty list: Kong's `[]`, as distinct from `null`. */
const EMPTY_LIST: readonly string[] = Object.freeze([]);

/** A node of the interner's list trie: the list ending here, and the longer lists by their next element. */
interface ListNode {
  list?: readonly string[];
  next?: Map<string, ListNode>;
}

/**
 * Equal values shared between the entities decoded from one batch, so that a config of 100,000
 * routes holds each of them once instead of once per entity: the ids entities reference (a route's
 * `service.id` is the very string of its service's `id`), the `{id}` reference objects, and the
 * lists many entities repeat (`protocols: ["http", "https"]`, `methods`, `tags`).
 *
 * Every value an interner hands out is frozen and may be held by many entities at once, so an
 * entity decoded with one must never be mutated (the data plane never mutates its config; the
 * write pipeline copies its input). Decoding without an interner gives fresh, unshared values.
 *
 * Bounded by its input: one entry per distinct value it was given. Make one per batch (an apply)
 * and drop it with the batch: the values stay shared by the entities, the tables go.
 */
export class EntityInterner {
  readonly #strings = new Map<string, string>();
  readonly #references = new Map<string, ForeignKey>();
  readonly #lists: ListNode = {};

  /** The first string equal to `value` this interner was given (`value` itself the first time). */
  string(value: string): string {
    const known = this.#strings.get(value);
    if (known !== undefined) return known;
    this.#strings.set(value, value);
    return value;
  }

  /** The frozen `{id}` reference to `id`, one per id; its `id` is {@link string}'s. */
  reference(id: string): ForeignKey {
    let reference = this.#references.get(id);
    if (reference === undefined) {
      reference = Object.freeze({ id: this.string(id) });
      this.#references.set(reference.id, reference);
    }
    return reference;
  }

  /**
   * A frozen list equal to `values` (the same strings in the same order, each through `map` when
   * given), one per distinct list. The return type is the entities' `string[]`; it is frozen all the same.
   */
  list(values: readonly string[], map?: (value: string) => string): string[] {
    if (values.length === 0) return EMPTY_LIST as string[];
    let node = this.#lists;
    for (const value of values) {
      const element = map ? map(value) : value;
      node.next ??= new Map();
      let next = node.next.get(element);
      if (next === undefined) {
        next = {};
        node.next.set(element, next);
      }
      node = next;
    }
    node.list ??= Object.freeze(values.map((v) => this.string(map ? map(v) : v)));
    return node.list as string[];
  }
}
