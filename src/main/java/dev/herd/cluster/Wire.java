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
 * Length-framed messages over one TCP connection: {@code u32 length (big-endian), u8 type, payload}. The reader checks
 * every length against a bound before allocating, so a hostile or buggy peer cannot make it allocate without limit.
 * Once both ends proved the cluster key, {@link #protect} seals every frame (payload encrypted, 16-byte tag appended).
 * A deadline ({@link #deadline}) bounds a whole exchange, whatever the peer trickles. Counts the bytes each way for
 * the per-token statistics.
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
    /** When the exchange under way must be over (0: none); the watchdog closes the socket after it. */
    private volatile long deadline;
    private volatile int deadlineMillis;
    private volatile boolean expired;
    private Seal sealOut, sealIn;
    private byte[] sealed = new byte[0], raw = new byte[0];

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

    /**
     * Closes the connection if it is still open {@code millis} from now (0 clears the deadline): unlike a read
     * timeout, a peer cannot stretch it by sending a byte now and then.
     */
    public void deadline(int millis) {
        deadlineMillis = millis;
        deadline = millis == 0 ? 0 : System.nanoTime() + millis * 1_000_000L;
    }

    /** Whether this side closed the connection (or the watchdog did). */
    boolean closed() {
        return socket.isClosed();
    }

    /** From now on every frame is sealed with {@code out} and must open with {@code in}. */
    void protect(Seal out, Seal in) {
        synchronized (this) {
            sealOut = out;
        }
        sealIn = in;
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
        byte[] payload = m.payload();
        int length = m.length();
        if (sealOut != null) {
            if (sealed.length < length + Seal.TAG) sealed = new byte[length + Seal.TAG];
            length = sealOut.seal(m.type(), payload, length, sealed);
            payload = sealed;
        }
        out.writeInt(length + 1);
        out.writeByte(m.type());
        out.write(payload, 0, length);
        sent += 5 + length;
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
        try {
            return read(maxPayload, reuse);
        } catch (SocketTimeoutException e) {
            throw new HerdException(peer + ": no message within " + socket.getSoTimeout() + " ms (timed out)");
        } catch (EOFException e) {
            throw new HerdException(peer + ": connection closed");
        } catch (IOException e) {
            if (expired) throw new HerdException(peer + ": did not complete the exchange within " + deadlineMillis + " ms (deadline)");
            throw e;
        }
    }

    private Message read(int maxPayload, boolean reuse) throws IOException {
        Seal seal = sealIn;
        int tag = seal == null ? 0 : Seal.TAG;
        int length = in.readInt();
        if (length < 1 + tag || length - 1 - tag > maxPayload) {
            String text = text(length);
            if (text != null) throw new ProtocolException(peer + ": sent text, not Herd's frames: '" + text + "'", text);
            throw new ProtocolException(peer + ": frame of " + Integer.toUnsignedString(length) + " bytes exceeds the limit of " + (maxPayload + 1 + tag)
                    + (length >= 1 && length < 1 + tag ? " or is shorter than its tag" : ""));
        }
        int type = in.readUnsignedByte();
        int n = length - 1 - tag;
        if (reuse && scratch.length < n) scratch = new byte[n];
        byte[] payload = reuse ? scratch : new byte[n];
        if (seal == null) {
            in.readFully(payload, 0, n);
        } else {
            if (raw.length < n + tag) raw = new byte[n + tag];
            in.readFully(raw, 0, n + tag);
            seal.open(type, raw, n + tag, payload, peer);
        }
        received += 4 + length;
        return new Message(type, payload, n);
    }

    public Message receive() throws IOException {
        return receive(MAX_FRAME);
    }

    /**
     * The line a peer that speaks a text protocol sent (an HTTP server's status line, an SSH banner), when the four
     * bytes read as a frame length and what has already arrived are printable ASCII; else null.
     */
    private String text(int length) throws IOException {
        StringBuilder b = new StringBuilder();
        for (int shift = 24; shift >= 0; shift -= 8) b.append((char) (length >>> shift & 0xff));
        for (int n = Math.min(in.available(), 76); n > 0; n--) {
            int c = in.read();
            if (c == '\r' || c == '\n') break;
            b.append((char) c);
        }
        return b.chars().allMatch(c -> c >= 0x20 && c < 0x7f) ? b.toString() : null;
    }

    /** Receives a message and checks its type, skipping heartbeats (a busy worker pings the root that waits on it). */
    public Message expect(int type, int maxPayload) throws IOException {
        Message m = receive(maxPayload);
        while (m.type() == Message.PING && type != Message.PING) m = receive(maxPayload);
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
        /** The text line the peer sent instead of a frame, or null. */
        final String text;

        public ProtocolException(String message) {
            this(message, null);
        }

        ProtocolException(String message, String text) {
            super(message);
            this.text = text;
        }
    }

    /**
     * Java sockets have no write timeout and no deadline for a whole exchange: one daemon thread closes the sockets
     * of sends stuck too long and of exchanges past their deadline.
     */
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
                    long due = w.deadline;
                    if (due != 0 && now - due > 0) {
                        w.expired = true;
                        w.close();
                    }
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
