import { randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isUuid } from '@sluice/protocol';
import { CacheIoError } from '../errors.js';
import { writeFileAtomic } from './write-file-atomic.js';

/** Name of the file holding the node id in the cache directory. */
export const NODE_ID_FILE_NAME = 'node_id';

/**
 * The data plane's node id: a UUID persisted in the cache directory, so a restarted data plane is
 * the same node to the control plane's registry. Created (crash-safely) on first start; a file that
 * does not hold a UUID is replaced.
 */
export async function loadOrCreateNodeId(dir: string): Promise<string> {
  const path = join(dir, NODE_ID_FILE_NAME);
  try {
    const text = (await readFile(path, 'utf8')).trim();
    if (isUuid(text)) return text.toLowerCase();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new CacheIoError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  const id = randomUUID();
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new CacheIoError(`cannot create ${dir}: ${(cause as Error).message}`, { cause });
  }
  await writeFileAtomic(path, Buffer.from(id + '\n'), { mode: 0o644 });
  return id;
}
