/**
 * Where the proxy's access log goes (`ProxyServerOptions.accessLog`): one JSON line (newline included) per finished
 * exchange. The shape it depends on, not a package: pino's `destination()` (sonic-boom), a
 * `Writable`, or a test's array all fit. `write` must not throw and must not block for long: it
 * runs on the request path.
 */
export interface AccessLogSink {
  write(line: string): unknown;
  /**
   * Called once by `ProxyServer.close()` after the last line; resolves when the lines written so
   * far have reached their destination (or it gave up). Optional.
   */
  flush?(): Promise<void>;
}
