/**
 * What the write pipeline works out from a schema constant (a field spec's compiled validator or
 * normalizer, a schema's plan), computed on first use and kept by the constant's identity for as
 * long as the constant lives (a WeakMap: nothing is held past it). Sound because field specs and
 * schemas are constants, never mutated once built.
 */
export function compiledOnce<K extends object, V>(compile: (key: K) => V): (key: K) => V {
  const compiled = new WeakMap<K, V>();
  return (key) => {
    let value = compiled.get(key);
    if (value === undefined) {
      value = compile(key);
      compiled.set(key, value);
    }
    return value;
  };
}
