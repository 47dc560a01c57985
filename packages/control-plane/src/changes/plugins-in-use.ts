/**
 * The plugin names a config uses, kept beside the config mirror and moved by each changed
 * `plugins` entity: name → number of instances (disabled ones included, see
 * stream/plugin-compatibility.ts), and instance id → name so that a delete, which carries only
 * the id, finds its name. O(1) per change; the compatibility check then compares this small set
 * with each data plane's announced plugins, never the whole config.
 */
export class PluginsInUse {
  private readonly nameById = new Map<string, string>();
  private readonly countByName = new Map<string, number>();

  /** Records instance `id` as a plugin named `name` (an update that renames it moves its count). */
  set(id: string, name: string): void {
    const previous = this.nameById.get(id);
    if (previous === name) return;
    if (previous !== undefined) this.decrement(previous);
    this.nameById.set(id, name);
    this.countByName.set(name, (this.countByName.get(name) ?? 0) + 1);
  }

  /** Forgets instance `id` (a no-op for an id it does not hold). */
  delete(id: string): void {
    const name = this.nameById.get(id);
    if (name === undefined) return;
    this.nameById.delete(id);
    this.decrement(name);
  }

  clear(): void {
    this.nameById.clear();
    this.countByName.clear();
  }

  /** The names with at least one instance. */
  names(): IterableIterator<string> {
    return this.countByName.keys();
  }

  /** How many instances of `name` the config holds. */
  count(name: string): number {
    return this.countByName.get(name) ?? 0;
  }

  private decrement(name: string): void {
    const n = (this.countByName.get(name) ?? 0) - 1;
    if (n <= 0) this.countByName.delete(name);
    else this.countByName.set(name, n);
  }
}
