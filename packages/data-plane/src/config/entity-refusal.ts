import type { EntityKind } from '@sluice/protocol';
import { ResourceErrorCode } from '../errors.js';

/** Why a projection refused a config, as one per-entity error of the NACK. */
export interface ProjectionFailure {
  readonly kind: EntityKind;
  /** The entity it names, or '' when the projection cannot say which. */
  readonly id: string;
  readonly code: ResourceErrorCode;
  readonly message: string;
}

/**
 * What a projection throws to refuse a config because of one entity (a plugin this data plane
 * does not run, a key used twice): the failure it carries becomes the NACK's per-entity error.
 */
export class EntityRefusal extends Error {
  override readonly name = 'EntityRefusal';

  constructor(readonly failure: ProjectionFailure) {
    super(failure.message);
  }

  /** The failure `cause` carries when it is an EntityRefusal, else an INVALID one naming no entity of `kind`. */
  static failureOf(cause: unknown, kind: EntityKind): ProjectionFailure {
    if (cause instanceof EntityRefusal) return cause.failure;
    return { kind, id: '', code: ResourceErrorCode.INVALID, message: cause instanceof Error ? cause.message : String(cause) };
  }
}
