/**
 * Bounds on what one Admin API request body may ask the decoders to build. They are API: each is
 * documented in the README, and breaking one answers 400 (never a 500, never work proportional
 * to a number written in the request). The body size itself is `AdminApiLimits.bodyLimitBytes`.
 */

/** Most arguments in one form body (Kong's `max_post_args`); more → 400 `Too many arguments`. */
export const MAX_FORM_ARGUMENTS = 1000;

/**
 * Largest array index in a form key (`paths[N]`), 1-based as in Kong; `[0]` and larger indexes
 * → 400. Equal to {@link MAX_FORM_ARGUMENTS}: a body cannot fill more positions than that anyway.
 */
export const MAX_FORM_ARRAY_INDEX = MAX_FORM_ARGUMENTS;

/**
 * Deepest nesting of a request body: objects and arrays in JSON (lua-cjson's `decode_max_depth`,
 * which Kong uses, is also 1000; deeper → 400 `Cannot parse JSON body`), and segments of a form
 * key (`a.b[1]` is 3 deep; deeper → 400).
 */
export const MAX_BODY_DEPTH = 1000;
