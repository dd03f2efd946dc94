package dev.herd.api;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;

/**
 * A socket's input where every read waits at most until the deadline of the current phase (the request head, then its
 * body): a client trickling one byte at a time cannot stretch a phase, as it could a per-read timeout.
 */
final class DeadlineInput extends InputStream {
    private final Socket socket;
    private final InputStream in;
    private long deadline;
    private String late;

    DeadlineInput(Socket socket) throws IOException {
        this.socket = socket;
        this.in = socket.getInputStream();
    }

    /** From now on reads fail with a 408 saying {@code late} once {@code millis} have passed. */
    void within(long millis, String late) {
        this.deadline = System.nanoTime() + millis * 1_000_000;
        this.late = late;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) == -1 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        long left = (deadline - System.nanoTime()) / 1_000_000;
        if (left <= 0) throw new HttpFault(408, "request_timeout", late);
        socket.setSoTimeout((int) Math.min(left, Integer.MAX_VALUE));
        try {
            return in.read(b, off, len);
        } catch (SocketTimeoutException e) {
            throw new HttpFault(408, "request_timeout", late);
        }
    }
}
