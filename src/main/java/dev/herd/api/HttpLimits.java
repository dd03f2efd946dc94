package dev.herd.api;

/**
 * Bounds on what clients may hold.
 *
 * @param maxConnections connections open at once; more are answered 503 and closed
 * @param headerMillis   time to send a request's whole head (request line and headers) from the connection or the
 *                       previous response; a connection silent that long is closed
 * @param bodyMillis     time to send a request's whole body after its head
 */
public record HttpLimits(int maxConnections, long headerMillis, long bodyMillis) {
    public static final HttpLimits DEFAULT = new HttpLimits(256, 10_000, 30_000);

    public HttpLimits {
        if (maxConnections < 1 || headerMillis < 1 || bodyMillis < 1) throw new IllegalArgumentException("limits must be positive");
    }
}
