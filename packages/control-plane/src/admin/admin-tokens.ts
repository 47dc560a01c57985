/**
 * Admin API tokens: who may call the Admin API, by name and role. From `SLUICE_ADMIN_TOKEN` (one
 * `admin` token, read from the environment so it never shows in `ps`) and from the file of
 * `--admin-tokens-file`: one token a line, `NAME ROLE TOKEN` separated by spaces or tabs, `#` starts
 * a comment line, blank lines ignored.
 *
 * A presented token is checked against every configured one in constant time: both sides are
 * hashed (sha256) and compared with `timingSafeEqual`, and every configured token is compared, so
 * neither a token's content nor its length nor its position leaks through timing. Tokens are kept
 * only as their hashes, and no message ever contains one.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigurationError } from '../errors.js';

/** The roles: `admin` reads and writes, `read-only` reads (GET, HEAD, OPTIONS). */
export const ADMIN_ROLES = ['admin', 'read-only'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

/** Shortest token accepted, in characters: a shorter one is refused as guessable. */
export const MIN_ADMIN_TOKEN_CHARS = 16;

/** Largest tokens file read, in bytes (1 MiB). */
export const MAX_ADMIN_TOKENS_FILE_BYTES = 1024 * 1024;

/** The name the `SLUICE_ADMIN_TOKEN` token has in audit lines. */
export const ENV_ADMIN_TOKEN_NAME = 'SLUICE_ADMIN_TOKEN';

/** Who a token is. */
export interface AdminIdentity {
  readonly name: string;
  readonly role: AdminRole;
}

interface StoredToken extends AdminIdentity {
  readonly digest: Buffer;
}

const NAME = /^[A-Za-z0-9._@-]{1,64}$/;
/** Visible ASCII without spaces: what fits in an `Authorization` header unquoted. */
const TOKEN = /^[\x21-\x7e]+$/;

const digestOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

function checkToken(token: string, where: string): void {
  if (!TOKEN.test(token)) throw new ConfigurationError(`${where}: a token is visible ASCII characters without spaces`);
  if (token.length < MIN_ADMIN_TOKEN_CHARS) throw new ConfigurationError(`${where}: a token has at least ${MIN_ADMIN_TOKEN_CHARS} characters`);
}

/** An immutable set of tokens; see the module comment. */
export class AdminTokenSet {
  readonly #tokens: readonly StoredToken[];

  private constructor(tokens: readonly StoredToken[]) {
    this.#tokens = tokens;
  }

  /** No tokens: the Admin API is open. */
  static readonly EMPTY = new AdminTokenSet([]);

  /**
   * The tokens of `SLUICE_ADMIN_TOKEN` (`envToken`, may be undefined or empty) and of a tokens file's
   * text (`fileText`, named `fileName` in errors). Throws {@link ConfigurationError} naming the line
   * of the first fault (never its token): a line without three fields, a bad name or role, a token
   * too short, a name or token given twice.
   */
  static from(sources: { envToken?: string; fileText?: string; fileName?: string }): AdminTokenSet {
    const tokens: StoredToken[] = [];
    const names = new Set<string>();
    const digests: Buffer[] = [];
    const add = (identity: AdminIdentity, token: string, where: string): void => {
      checkToken(token, where);
      if (names.has(identity.name)) throw new ConfigurationError(`${where}: the name ${identity.name} is given twice`);
      const digest = digestOf(token);
      if (digests.some((d) => d.equals(digest))) throw new ConfigurationError(`${where}: this token is given twice`);
      names.add(identity.name);
      digests.push(digest);
      tokens.push({ ...identity, digest });
    };
    if (sources.envToken !== undefined && sources.envToken !== '') add({ name: ENV_ADMIN_TOKEN_NAME, role: 'admin' }, sources.envToken.trim(), ENV_ADMIN_TOKEN_NAME);
    if (sources.fileText !== undefined) {
      const file = sources.fileName ?? 'admin tokens file';
      sources.fileText.split(/\r?\n/).forEach((raw, i) => {
        const line = raw.trim();
        if (line === '' || line.startsWith('#')) return;
        const where = `${file}:${i + 1}`;
        const fields = line.split(/[ \t]+/);
        if (fields.length !== 3) throw new ConfigurationError(`${where}: expected NAME ROLE TOKEN, got ${fields.length} field${fields.length === 1 ? '' : 's'}`);
        const [name, role, token] = fields as [string, string, string];
        if (!NAME.test(name)) throw new ConfigurationError(`${where}: a name is 1 to 64 of A-Z a-z 0-9 . _ @ -`);
        if (!(ADMIN_ROLES as readonly string[]).includes(role)) throw new ConfigurationError(`${where}: the role must be ${ADMIN_ROLES.join(' or ')}, got ${JSON.stringify(role)}`);
        add({ name, role: role as AdminRole }, token, where);
      });
    }
    return new AdminTokenSet(tokens);
  }

  /** How many tokens there are; 0 leaves the Admin API open. */
  get size(): number {
    return this.#tokens.length;
  }

  /** The names and roles, for logs (never the tokens). */
  get identities(): readonly AdminIdentity[] {
    return this.#tokens.map(({ name, role }) => ({ name, role }));
  }

  /** Who `presented` is, or null when it matches no token; constant time (see the module comment). */
  identify(presented: string): AdminIdentity | null {
    const digest = digestOf(presented);
    let found: StoredToken | null = null;
    for (const token of this.#tokens) {
      if (timingSafeEqual(token.digest, digest) && found === null) found = token;
    }
    return found === null ? null : { name: found.name, role: found.role };
  }
}
