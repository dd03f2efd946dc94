package dev.herd.cluster;

import dev.herd.HerdException;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Length-framed messages over one TCP connection: {@code u32 length, u8 type, payload}. The reader checks every
 * length against a bound before allocating, so a hostile or buggy peer cannot make it allocate without limit.
 * Counts the bytes each way for the per-token statistics.
 */
public final class Wire implements Closeable { // sends are synchronized: a heartbeat may write between ops
    /** Largest frame accepted unless a caller allows more (weight chunks are sent in pieces of at most this). */
    public static final int MAX_FRAME = 8 << 20;

    private final Socket socket;
    private final String peer;
    private final DataInputStream in;
    private final DataOutputStream out;
    private long sent, received;
    private volatile long lastSend = System.nanoTime();
    /** When the send in progress started (0: none); a send stuck longer than writeTimeout closes the socket. */
    private volatile long sendingSince;
    private volatile int writeTimeout = 120_000;
    private volatile boolean stuck;

    public Wire(Socket socket, String peer) throws IOException {
        this.socket = socket;
        this.peer = peer;
        socket.setTcpNoDelay(true);
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 1 << 16));
        this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 1 << 16));
        Watchdog.WIRES.add(this);
    }

    public String peer() {
        return peer;
    }

    /** Read timeout for the next reads, in milliseconds (0 = wait forever). */
    public void timeout(int millis) throws IOException {
        socket.setSoTimeout(millis);
    }

    /** Longest time one send may block (a peer that stops reading fills the TCP buffers), in milliseconds. */
    public void writeTimeout(int millis) {
        writeTimeout = millis;
    }

    public synchronized void send(Message m) throws IOException {
        sendingSince = System.nanoTime();
        try {
            write(m);
            out.flush();
        } catch (IOException e) {
            if (stuck) throw new IOException("the peer stopped reading: a send made no progress for " + writeTimeout + " ms", e);
            throw e;
        } finally {
            sendingSince = 0;
        }
    }

    /** Queues a message without flushing (flush with {@link #flush}). */
    public synchronized void write(Message m) throws IOException {
        out.writeInt(m.length() + 1);
        out.writeByte(m.type());
        out.write(m.payload(), 0, m.length());
        sent += 5 + m.length();
        lastSend = System.nanoTime();
    }

    /** Milliseconds since this side last sent anything. */
    public long idleMillis() {
        return (System.nanoTime() - lastSend) / 1_000_000;
    }

    public synchronized void flush() throws IOException {
        out.flush();
    }

    /** Reads the next message, whose payload may not exceed {@code maxPayload} bytes. */
    public Message receive(int maxPayload) throws IOException {
        return receive(maxPayload, false);
    }

    /**
     * Like {@link #receive(int)}, but the payload lives in a buffer this wire reuses: valid until the next receive.
     * For bulk transfers (weights), where a fresh array per message would only feed the garbage collector.
     */
    public Message receiveTransient(int maxPayload) throws IOException {
        return receive(maxPayload, true);
    }

    private byte[] scratch = new byte[0];

    private Message receive(int maxPayload, boolean reuse) throws IOException {
        int length;
        try {
            length = in.readInt();
        } catch (SocketTimeoutException e) {
            throw new HerdException(peer + ": no message within " + socket.getSoTimeout() + " ms (timed out)");
        } catch (EOFException e) {
            throw new HerdException(peer + ": connection closed");
        }
        if (length < 1 || length - 1 > maxPayload) {
            throw new ProtocolException(peer + ": frame of " + Integer.toUnsignedString(length) + " bytes exceeds the limit of " + (maxPayload + 1));
        }
        int type = in.readUnsignedByte();
        if (reuse && scratch.length < length - 1) scratch = new byte[length - 1];
        byte[] payload = reuse ? scratch : new byte[length - 1];
        in.readFully(payload, 0, length - 1);
        received += 4 + length;
        return new Message(type, payload, length - 1);
    }

    public Message receive() throws IOException {
        return receive(MAX_FRAME);
    }

    /** Receives a message and checks its type. */
    public Message expect(int type, int maxPayload) throws IOException {
        Message m = receive(maxPayload);
        if (m.type() == Message.ERROR) throw new HerdException(peer + ": " + m.reader().string());
        if (m.type() != type) throw new ProtocolException(peer + ": expected message " + Message.name(type) + ", got " + Message.name(m.type()));
        return m;
    }

    public long sent() {
        return sent;
    }

    public long received() {
        return received;
    }

    @Override
    public void close() {
        Watchdog.WIRES.remove(this);
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing a broken connection: nothing left to do
        }
    }

    /** The peer broke the protocol (bad magic, bad length, unexpected message). */
    public static final class ProtocolException extends HerdException {
        public ProtocolException(String message) {
            super(message);
        }
    }

    /** Java sockets have no write timeout: one daemon thread closes the sockets of sends stuck too long. */
    private static final class Watchdog {
        static final Set<Wire> WIRES = ConcurrentHashMap.newKeySet();

        static {
            Thread.ofPlatform().daemon().name("herd-wire-watchdog").start(Watchdog::watch);
        }

        private static void watch() {
            while (true) {
                try {
                    Thread.sleep(250);
                } catch (InterruptedException e) {
                    return;
                }
                long now = System.nanoTime();
                for (Wire w : WIRES) {
                    long since = w.sendingSince;
                    if (since != 0 && now - since > w.writeTimeout * 1_000_000L) {
                        w.stuck = true;
                        w.close();
                    }
                }
            }
        }
    }
}
