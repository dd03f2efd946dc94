package dev.herd.api;


import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Cancels a request answered in one piece when its client goes away while it waits in the queue or generates, so that
 * it frees its place or the model at once instead of running to max_tokens (a stream finds out by its own writes).
 * <p>
 * Every {@value #EVERY_MS} ms a virtual thread looks the connection up with {@link TcpTable}. When the client has closed
 * its side (CLOSE_WAIT) or reset the connection (no longer listed), the watch confirms by writing, since CLOSE_WAIT is
 * also a client that shut down its output and still waits for the answer: it commits the response (200,
 * {@code application/json}, chunked), writes a space (JSON allows leading white space), and {@value #CONFIRM_MS} ms
 * later another, the time for a closed client's reset to come back. A failed write means the client has gone: the
 * request is cancelled. Otherwise the answer follows in that response, and each later look writes one more space,
 * which fails once the client closes entirely (over a long round trip, that is where the reset shows).
 * <p>
 * Once the 200 is committed no other status can be sent: a failure after that point (a lost worker's 503, the server
 * stopping, a too long prompt found when its turn came) ends the connection without the final chunk
 * ({@link Http.Abort}), so a half-closed client sees a truncated response instead of that error, not a successful
 * one. The first write comes {@value #EVERY_MS} ms in at the earliest, so a 429 goes out before it.
 * <p>
 * Without {@code /proc/net} (macOS, Windows) the watch cannot see the connection's state, so a request still running
 * after {@value #PROBE_AFTER_MS} ms is probed by writing: the response is committed as above and a space written every
 * {@value #PROBE_EVERY_MS} ms; a failed write cancels it. There, the statuses of requests that long become a truncated
 * 200 on failure; shorter ones are not touched.
 */
final class ClientWatch {
    static final long EVERY_MS = 250, CONFIRM_MS = 50, PROBE_AFTER_MS = 5_000, PROBE_EVERY_MS = 1_000;
    /** Whether connection states can be read ({@link TcpTable}); tests of the probing clear it. */
    static volatile boolean procNet = TcpTable.available();

    private final Exchange exchange;
    private final Cancellation cancel;
    private final InetSocketAddress local, remote;
    private final ReentrantLock lock = new ReentrantLock(); // held by the watch while it looks or writes
    private final Condition stopping = lock.newCondition();
    private boolean stopped;
    private OutputStream body; // the committed response's body

    private ClientWatch(Exchange exchange, Cancellation cancel) {
        this.exchange = exchange;
        this.cancel = cancel;
        this.local = exchange.getLocalAddress();
        this.remote = exchange.getRemoteAddress();
    }

    /** Watches the client of {@code exchange} until {@link #stop}; cancels {@code cancel} if it goes. */
    static ClientWatch start(Exchange exchange, Cancellation cancel) {
        ClientWatch w = new ClientWatch(exchange, cancel);
        Thread.ofVirtual().name("herd-api-watch").start(procNet ? w::watch : w::probe);
        return w;
    }

    /**
     * Ends the watch (waiting for a look or write in progress); from then on only the caller writes to the exchange.
     *
     * @return the body of the response the watch committed (200, chunked), or null if it committed none
     */
    OutputStream stop() {
        lock.lock();
        try {
            stopped = true;
            stopping.signalAll();
            return body;
        } finally {
            lock.unlock();
        }
    }

    private void watch() {
        lock.lock();
        try {
            // An unlisted connection that was never listed says nothing (another namespace?). The first look only
            // notes that: a quick answer (a 429, a 400) must not find its status taken by a half-closed client.
            boolean seen = TcpTable.state(local, remote) != TcpTable.State.ABSENT;
            while (!pause(EVERY_MS)) {
                TcpTable.State s = TcpTable.state(local, remote);
                if (s == TcpTable.State.UNKNOWN) return;
                if ((s == TcpTable.State.CLOSE_WAIT || s == TcpTable.State.ABSENT && seen) && !stillThere()) {
                    cancel.cancel();
                    return;
                }
                seen |= s != TcpTable.State.ABSENT;
            }
        } finally {
            lock.unlock();
        }
    }

    /** Where connection states cannot be read: writes to a long request's client now and then. */
    private void probe() {
        lock.lock();
        try {
            if (pause(PROBE_AFTER_MS)) return;
            do {
                if (!stillThere()) {
                    cancel.cancel();
                    return;
                }
            } while (!pause(PROBE_EVERY_MS));
        } finally {
            lock.unlock();
        }
    }

    /** Writes to the client, committing the response first; false if a write failed: the client has gone. */
    private boolean stillThere() {
        try {
            if (body == null) {
                exchange.getResponseHeaders().set("Content-Type", "application/json");
                exchange.sendResponseHeaders(200, 0);
                body = exchange.getResponseBody();
                space();
                if (pause(CONFIRM_MS)) return true; // the answer is ready: its own write goes next
            }
            space();
            return true;
        } catch (IOException e) { // broken pipe, connection reset
            return false;
        }
    }

    private void space() throws IOException {
        body.write(' ');
        body.flush();
    }

    /** Waits, releasing the lock meanwhile; true once stopped. */
    private boolean pause(long ms) {
        long left = TimeUnit.MILLISECONDS.toNanos(ms);
        try {
            while (!stopped && left > 0) left = stopping.awaitNanos(left);
        } catch (InterruptedException e) {
            return true; // nobody interrupts the watch; should it happen, it ends
        }
        return stopped;
    }
}
