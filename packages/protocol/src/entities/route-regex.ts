/**
 * The regex checker for route paths written `~<regex>`.
 *
 * Kong evaluates route regexes with the Rust `regex` crate (traditional_compatible router), which
 * has no look-around and no backreferences, and validates them with PCRE. Sluice checks them with a
 * JavaScript `RegExp` in Unicode mode after rejecting the constructs Rust refuses, and after
 * rewriting the Rust/PCRE-only spellings JavaScript lacks: `(?P<name>` named groups and inline flag
 * groups such as `(?i)` / `(?i:…)`.
 */

/** Why a regex is refused, or `null` when it is acceptable. */
export function checkRouteRegex(source: string): string | null {
  const scanned = scanRegex(source);
  if (typeof scanned !== 'string') return scanned.error;
  try {
    new RegExp(scanned, 'u');
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return message.replace(/^Invalid regular expression: \/.*\/u?: /s, '');
  }
  return null;
}

/**
 * Compiles a validated route regex into a JavaScript `RegExp` equivalent, anchored at the start as
 * Kong anchors it. `caseInsensitive` is set when the pattern starts with `(?i)`.
 */
export function compileRouteRegex(source: string, flags = 'u'): RegExp {
  const scanned = scanRegex(source);
  if (typeof scanned !== 'string') throw new SyntaxError(scanned.error);
  let pattern = scanned;
  let extra = '';
  const leadingFlags = /^\(\?([imsx]+)\)/.exec(source);
  if (leadingFlags?.[1]?.includes('i')) extra = 'i';
  if (pattern.startsWith('(?:)')) pattern = pattern.slice(4);
  return new RegExp(`^(?:${pattern})`, flags + extra);
}

/**
 * Walks the pattern once, tracking escapes and character classes: refuses look-around and
 * backreferences, rewrites `(?P<` to `(?<` and inline flag groups to non-capturing groups.
 */
function scanRegex(source: string): string | { error: string } {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === '\\') {
      const next = source[i + 1];
      if (next === undefined) return { error: 'trailing backslash' };
      if (!inClass && (/[1-9]/.test(next) || (next === 'k' && source[i + 2] === '<'))) {
        return { error: 'backreferences are not supported' };
      }
      out += ch + next;
      i++;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      out += ch;
      continue;
    }
    if (ch === '[') {
      inClass = true;
      out += ch;
      if (source[i + 1] === '^') {
        out += '^';
        i++;
      }
      if (source[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (ch === '(' && source[i + 1] === '?') {
      const rest = source.slice(i + 2);
      if (rest.startsWith('=') || rest.startsWith('!') || rest.startsWith('<=') || rest.startsWith('<!')) {
        return { error: 'look-around is not supported' };
      }
      if (rest.startsWith('P<')) {
        out += '(?<';
        i += 3;
        continue;
      }
      const flagGroup = /^([imsxU-]+)([:)])/.exec(rest);
      if (flagGroup?.[1] !== undefined && flagGroup[2] !== undefined) {
        out += flagGroup[2] === ')' ? '(?:)' : '(?:';
        i += 1 + flagGroup[1].length + 1;
        continue;
      }
    }
    out += ch;
  }
  return out;
}
