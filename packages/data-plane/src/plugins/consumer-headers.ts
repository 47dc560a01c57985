import type { PluginConsumer, PluginCredential, RequestHeaderView } from './plugin-context.js';

/** Kong's consumer headers to the upstream (`kong/constants.lua HEADERS`), as the auth and ACL plugins set them. */
export const CONSUMER_HEADERS = {
  consumerId: 'X-Consumer-ID',
  consumerCustomId: 'X-Consumer-Custom-ID',
  consumerUsername: 'X-Consumer-Username',
  credentialIdentifier: 'X-Credential-Identifier',
  anonymous: 'X-Anonymous-Consumer',
  consumerGroups: 'X-Consumer-Groups',
  authenticatedGroups: 'X-Authenticated-Groups',
} as const;

function setOrClear(request: RequestHeaderView, name: string, value: string | null | undefined): void {
  if (value === null || value === undefined) request.clear(name);
  else request.set(name, value);
}

/**
 * Sets the upstream request's consumer headers for `consumer` authenticated with `credential` (the
 * auth plugins' `set_consumer`): each set when present, else cleared, so a client-sent value never
 * survives an authentication. `X-Anonymous-Consumer: true` only without a credential.
 */
export function setConsumerHeaders(request: RequestHeaderView, consumer: PluginConsumer | null, credential: PluginCredential | null): void {
  setOrClear(request, CONSUMER_HEADERS.consumerId, consumer?.id);
  setOrClear(request, CONSUMER_HEADERS.consumerCustomId, consumer?.custom_id);
  setOrClear(request, CONSUMER_HEADERS.consumerUsername, consumer?.username);
  setOrClear(request, CONSUMER_HEADERS.credentialIdentifier, credential?.identifier);
  if (credential === null) request.set(CONSUMER_HEADERS.anonymous, 'true');
  else request.clear(CONSUMER_HEADERS.anonymous);
}
