package dev.herd.api;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;

/**
 * The listening socket: a virtual thread per connection ({@link HttpConnection}) up to {@link HttpLimits#maxConnections};
 * past it a connection gets a JSON 503 and is closed, so the descriptors a client can hold are bounded.
 * <p>
 * Why not the JDK's HttpServer: it answers malformed requests itself with HTML pages, and its connection cap
 * ({@code jdk.httpserver.maxConnections}) closes the connections past it without a word.
 */
final class HttpFront implements AutoCloseable {
    /** Connections being told 503 at once; past that they are closed at once. */
    static final int REJECTING = 64;

    private final ServerSocket server = new ServerSocket();
    private final HttpLimits limits;
    private final HttpConnection.Handler handler;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final Semaphore rejecting = new Semaphore(REJECTING);
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
    private final byte[] full;
    private volatile boolean closed;

    HttpFront(InetSocketAddress address, HttpLimits limits, HttpConnection.Handler handler) throws IOException {
        this.limits = limits;
        this.handler = handler;
        this.full = HttpConnection.response(new ApiError(503, "server_error", null, "too_many_connections",
                "the server holds " + limits.maxConnections() + " connections, its limit; retry later"));
        server.bind(address, 128);
        Thread.ofPlatform().daemon().name("herd-api-accept").start(this::accept);
    }

    int port() {
        return server.getLocalPort();
    }

    private void accept() {
        while (!closed) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                if (!closed) pause(); // out of descriptors, say: retry later instead of spinning
                continue;
            }
            if (open.size() >= limits.maxConnections()) {
                reject(s);
                continue;
            }
            open.add(s);
            threads.execute(() -> {
                try {
                    HttpConnection.serve(s, limits, handler);
                } finally {
                    open.remove(s);
                }
            });
        }
    }

    private void reject(Socket s) {
        if (!rejecting.tryAcquire()) {
            close(s);
            return;
        }
        threads.execute(() -> {
            try (s) {
                s.getOutputStream().write(full);
                HttpConnection.linger(s);
            } catch (IOException ignored) {
                // the client is gone
            } finally {
                rejecting.release();
            }
        });
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void close(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    /** Stops accepting, closes every connection and interrupts their threads. */
    @Override
    public void close() {
        closed = true;
        close(server);
        open.forEach(HttpFront::close);
        threads.shutdownNow();
    }

    private static void close(ServerSocket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing
        }
    }
}
