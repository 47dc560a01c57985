/**
 * An entity check described as data, in Kong's schema language (`entity_checks` of
 * `kong/db/schema/entities/*.lua`): one entry naming the check (`at_least_one_of`, `conditional`,
 * `conditional_at_least_one_of`, …) and its arguments, exactly as `GET /schemas/{entity}` shows it.
 *
 * Descriptive only: what enforces a check is the kind's `entityChecks` hook (Kong's messages and
 * order of errors need code). A kind lists here what its hook enforces, so clients (Kong Manager,
 * the Sluice UI) can tell a user beforehand; a check a client cannot read is simply ignored.
 */
export type EntityCheck = Readonly<Record<string, unknown>>;
