/**
 * Kong's `kong.tools.uri.escape`: percent-encodes every byte outside
 * `! # $ & ' ( ) * + , / : ; = ? @ [ ] A-Z a-z 0-9 - _ . ~ %` as `%XX` (upper-case hex), so the
 * upstream request target is safe on the wire and keeps the meaning of the reserved characters.
 * Input and output are binary strings (one code unit per byte).
 */

const IS_SAFE = /* @__PURE__ */ (() => {
  const table = new Uint8Array(256);
  for (const ch of "!#$&'()*+,/:;=?@[]-_.~%") table[ch.charCodeAt(0)] = 1;
  for (let c = 0x30; c <= 0x39; c++) table[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) table[c] = 1;
  return table;
})();

const HEX = '0123456789ABCDEF';

/** The path with every unsafe byte percent-encoded; the same string when nothing needs escaping. */
export function escapePath(path: string): string {
  const length = path.length;
  let i = 0;
  while (i < length) {
    const code = path.charCodeAt(i);
    if (code > 0xff || IS_SAFE[code] !== 1) break;
    i++;
  }
  if (i === length) return path;
  let out = path.slice(0, i);
  for (; i < length; i++) {
    const code = path.charCodeAt(i);
    if (code <= 0xff && IS_SAFE[code] === 1) {
      out += path[i];
    } else if (code <= 0xff) {
      out += '%' + HEX[code >> 4] + HEX[code & 15];
    } else {
      for (const byte of Buffer.from(path[i]!, 'utf8')) out += '%' + HEX[byte >> 4] + HEX[byte & 15];
    }
  }
  return out;
}
