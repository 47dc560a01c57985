/** Wire protocol version spoken by this build; a peer speaking another major version is refused. */
export const PROTOCOL_VERSION = 1;

/** Largest WebSocket message either plane accepts, in bytes (default 8 MiB). Snapshots are chunked below it. */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;

/** Size of one snapshot chunk's data, in bytes (default 1 MiB), so heartbeats interleave with a large snapshot. */
export const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

/** Largest decompressed config body (snapshot or delta) a data plane accepts, in bytes (default 512 MiB). */
export const MAX_CONFIG_BYTES = 512 * 1024 * 1024;

/** Largest number of chunks a snapshot may declare (MAX_CONFIG_BYTES / smallest sensible chunk). */
export const MAX_SNAPSHOT_CHUNKS = 65_536;

/** Bodies smaller than this many bytes travel uncompressed: gzip costs more than it saves on them. */
export const COMPRESS_MIN_BYTES = 1024;
