package dev.herd.api;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** Request and response bodies framed by Content-Length or chunked transfer coding (RFC 9112 6, 7.1). */
final class Bodies {
    private static final int MAX_CHUNK_LINE = 1024;

    private Bodies() {}

    /** A request body; {@code ended} once the client sent all of it, so the connection can serve the next request. */
    abstract static class In extends InputStream {
        abstract boolean ended();

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) == -1 ? -1 : one[0] & 0xff;
        }
    }

    static In fixed(InputStream in, long length) {
        return new In() {
            long left = length;

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (left == 0) return -1;
                int n = in.read(b, off, (int) Math.min(len, left));
                if (n == -1) throw HttpFault.bad("the body ended after " + (length - left) + " of its " + length + " bytes (Content-Length)");
                left -= n;
                return n;
            }

            @Override
            boolean ended() {
                return left == 0;
            }
        };
    }

    static In chunked(InputStream in) {
        return new In() {
            final Head.Lines lines = new Head.Lines(in, 0); // each line bounded; all of them by the body's deadline
            long left; // in the current chunk
            boolean last;

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (last) return -1;
                if (left == 0) {
                    left = size(lines.next("the chunked body ended early"));
                    if (left == 0) {
                        Head.headers(lines); // the trailer fields: read and ignored
                        last = true;
                        return -1;
                    }
                }
                int n = in.read(b, off, (int) Math.min(len, left));
                if (n == -1) throw HttpFault.bad("the chunked body ended early");
                if ((left -= n) == 0 && !lines.next("the chunked body ended early").isEmpty()) throw HttpFault.bad("a chunk does not end with CRLF");
                return n;
            }

            @Override
            boolean ended() {
                return last;
            }
        };
    }

    /** A chunk-size line: hex digits, then extensions, which are ignored. */
    private static long size(String line) throws HttpFault {
        if (line.length() > MAX_CHUNK_LINE) throw HttpFault.bad("a chunk size line exceeds " + MAX_CHUNK_LINE + " bytes");
        int end = line.indexOf(';');
        String hex = (end < 0 ? line : line.substring(0, end)).strip();
        if (hex.isEmpty() || hex.length() > 15 || !hex.chars().allMatch(c -> Character.digit(c, 16) >= 0)) throw HttpFault.bad("malformed chunk size");
        return Long.parseLong(hex, 16);
    }

    /** Chunks as written; the first {@code close} writes the last chunk. */
    static OutputStream chunkedOut(OutputStream out) {
        return new OutputStream() {
            boolean closed;

            @Override
            public void write(int b) throws IOException {
                write(new byte[]{(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                if (len == 0) return;
                out.write((Integer.toHexString(len) + "\r\n").getBytes(StandardCharsets.US_ASCII));
                out.write(b, off, len);
                out.write(CRLF);
            }

            @Override
            public void flush() throws IOException {
                out.flush();
            }

            @Override
            public void close() throws IOException {
                if (closed) return;
                closed = true;
                out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
        };
    }

    private static final byte[] CRLF = {'\r', '\n'};
}
