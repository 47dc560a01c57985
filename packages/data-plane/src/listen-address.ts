/** A host and port to listen on (port 0 picks a free port), or where a listener is bound. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}
