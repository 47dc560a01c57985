/**
 * Configures the protobufjs runtime before any generated message class is defined. Must be
 * imported before '../generated/sluice.js' (ES modules evaluate imports in order), because the
 * generated classes read `util.Long` when they set their prototype defaults.
 *
 * 64-bit fields (versions, nonces, timestamps, regex_priority) decode as JS numbers, not Long
 * objects; every value Sluice puts in them stays far below 2^53.
 */
import protobuf from 'protobufjs/minimal.js';

protobuf.util.Long = undefined as never;
protobuf.configure();

export { protobuf };
