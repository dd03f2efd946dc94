package dev.herd.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * A TCP relay that adds a fixed one-way delay, to emulate LAN latency where the {@code netem} qdisc is missing.
 * It listens on a port and, for every connection, opens one to the target; every chunk read from either side is
 * written to the other side {@code delay} later. Chunks keep their order (one FIFO queue and one writer per
 * direction, and a fixed delay) and both sockets have TCP_NODELAY, so small messages are not held back.
 *
 * <p>Usage: {@code DelayRelay LISTEN_HOST:PORT TARGET_HOST:PORT DELAY_MICROS}. Runs until killed.
 */
public final class DelayRelay implements AutoCloseable {
    private static final int CHUNK = 64 << 10;
    private static final int QUEUE = 64;
    /** Marks the end of a direction in its queue. */
    private static final Item EOF = new Item(0, null);

    private record Item(long due, byte[] data) {}

    private final ServerSocket server;
    private final InetSocketAddress target;
    private final long delayNanos;

    public DelayRelay(InetSocketAddress listen, InetSocketAddress target, long delayNanos) throws IOException {
        this.server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(listen, 16);
        this.target = target;
        this.delayNanos = delayNanos;
    }

    public int port() {
        return server.getLocalPort();
    }

    /** Accepts connections until closed; each is relayed on its own threads. */
    public void serve() {
        while (!server.isClosed()) {
            try {
                Socket in = server.accept();
                Thread.ofPlatform().daemon().name("relay-" + in.getPort()).start(() -> relay(in));
            } catch (IOException e) {
                if (!server.isClosed()) System.err.println("relay: accept failed: " + e.getMessage());
            }
        }
    }

    private void relay(Socket client) {
        try (client; Socket upstream = new Socket()) {
            upstream.connect(target, 10_000);
            client.setTcpNoDelay(true);
            upstream.setTcpNoDelay(true);
            Thread a = pump(client, upstream), b = pump(upstream, client);
            a.join();
            b.join();
        } catch (IOException e) {
            System.err.println("relay: " + target + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** One direction: a reader stamps each chunk with its due time, a writer sends it when due. */
    private Thread pump(Socket from, Socket to) throws IOException {
        // bounded (QUEUE chunks): when the receiver is slow the reader stops reading, and TCP pushes back on the sender
        LinkedBlockingQueue<Item> queue = new LinkedBlockingQueue<>(QUEUE);
        InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream();
        Thread reader = Thread.ofPlatform().daemon().start(() -> {
            byte[] buf = new byte[CHUNK];
            try {
                for (int n; (n = in.read(buf)) > 0; ) queue.put(new Item(System.nanoTime() + delayNanos, Arrays.copyOf(buf, n)));
                queue.put(EOF);
            } catch (IOException | InterruptedException e) {
                closeQuietly(from); // the peer reset the connection: drop both ends, as a router would
                closeQuietly(to);
            } catch (Throwable e) {
                System.err.println("relay: " + e);
                closeQuietly(from);
                closeQuietly(to);
            } finally {
                queue.offer(EOF); // wakes the writer if it waits (if the queue is full, its next write fails anyway)
            }
        });
        return Thread.ofPlatform().daemon().start(() -> {
            preciseTimers();
            try {
                for (Item it; (it = queue.take()) != EOF; ) {
                    for (long wait; (wait = it.due - System.nanoTime()) > 0; ) LockSupport.parkNanos(wait);
                    out.write(it.data);
                    out.flush();
                }
                to.shutdownOutput(); // pass the half-close on
            } catch (Throwable e) {
                closeQuietly(from);
                closeQuietly(to);
            }
            reader.interrupt(); // in case it waits on a full queue
            try {
                reader.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    /**
     * Linux lets a sleeping thread wake up to 50 us late by default (its timer slack); that would add about 50 us
     * to every delay, so the writer threads ask for 1 us. Best effort: without it the delays are just a bit longer.
     */
    private static void preciseTimers() {
        try {
            Linker linker = Linker.nativeLinker();
            MethodHandle prctl = linker.downcallHandle(linker.defaultLookup().find("prctl").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
            int rc = (int) prctl.invokeExact(29 /* PR_SET_TIMERSLACK */, 1000L /* ns */);
            if (rc != 0) System.err.println("relay: prctl(PR_SET_TIMERSLACK) failed");
        } catch (Throwable e) {
            System.err.println("relay: cannot set the timer slack: " + e);
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }

    static InetSocketAddress address(String hostPort) throws IOException {
        int colon = hostPort.lastIndexOf(':');
        if (colon <= 0) throw new IllegalArgumentException("not host:port: " + hostPort);
        return new InetSocketAddress(InetAddress.getByName(hostPort.substring(0, colon)), Integer.parseInt(hostPort.substring(colon + 1)));
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 3) {
            System.err.println("usage: DelayRelay LISTEN_HOST:PORT TARGET_HOST:PORT DELAY_MICROS");
            System.exit(2);
        }
        long micros = Long.parseLong(args[2]);
        try (DelayRelay r = new DelayRelay(address(args[0]), address(args[1]), micros * 1000)) {
            System.err.printf("relay %s -> %s, %d us each way%n", args[0], args[1], micros);
            r.serve();
        }
    }
}
