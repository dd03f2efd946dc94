package dev.herd.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.Headers;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * One client connection: requests read one after another, each head within the header deadline and each body within
 * the body deadline ({@link DeadlineInput}). A client fault found here is answered with a JSON error and ends the
 * connection; a handler that throws ends it without completing its response.
 */
final class HttpConnection {
    /** Answers one request; throwing ends the connection at once (the response stays incomplete). */
    interface Handler {
        void handle(Exchange ex) throws IOException;
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long LINGER_MS = 1_000, LINGER_BYTES = 256 * 1024;

    private HttpConnection() {}

    static void serve(Socket socket, HttpLimits limits, Handler handler) {
        try (socket) {
            DeadlineInput deadlines = new DeadlineInput(socket);
            InputStream in = new BufferedInputStream(deadlines, 8192);
            OutputStream out = new BufferedOutputStream(socket.getOutputStream(), 8192);
            InetSocketAddress local = (InetSocketAddress) socket.getLocalSocketAddress(), remote = (InetSocketAddress) socket.getRemoteSocketAddress();
            while (true) {
                deadlines.within(limits.headerMillis(), "the request head did not arrive within " + limits.headerMillis() + " ms");
                Exchange ex;
                try {
                    Head head = Head.read(in);
                    if (head == null) return;
                    Bodies.In body = body(head, in);
                    deadlines.within(limits.bodyMillis(), "the request body did not arrive within " + limits.bodyMillis() + " ms");
                    ex = new Exchange(head, body, out, local, remote);
                } catch (HttpFault f) {
                    out.write(response(f.error()));
                    out.flush();
                    linger(socket);
                    return;
                }
                handler.handle(ex);
                if (!ex.reusable()) {
                    linger(socket);
                    return;
                }
            }
        } catch (IOException e) {
            // the client went away, or the handler gave up on the response: the connection just ends
        }
    }

    /** The body's framing, refusing what could be read two ways (request smuggling) or not at all. */
    private static Bodies.In body(Head head, InputStream in) throws HttpFault {
        Headers h = head.headers();
        List<String> te = h.get("Transfer-Encoding"), cl = h.get("Content-Length");
        if (te != null) {
            if (cl != null || head.http10()) throw HttpFault.bad("Transfer-Encoding with Content-Length, or on HTTP/1.0");
            if (te.size() != 1 || !te.getFirst().equalsIgnoreCase("chunked")) {
                throw new HttpFault(400, "unsupported_transfer_encoding", "only the chunked transfer coding is supported");
            }
            return Bodies.chunked(in);
        }
        if (cl == null) return Bodies.fixed(in, 0);
        String n = cl.getFirst();
        if (n.isEmpty() || n.length() > 18 || !n.chars().allMatch(Character::isDigit) || cl.stream().anyMatch(v -> !v.equals(n))) {
            throw HttpFault.bad("malformed Content-Length");
        }
        return Bodies.fixed(in, Long.parseLong(n));
    }

    /** A whole error response that closes the connection. */
    static byte[] response(ApiError e) throws IOException {
        byte[] body = JSON.writeValueAsBytes(e.body());
        String head = "HTTP/1.1 " + e.status + " " + Exchange.reason(e.status) + "\r\nContent-Type: application/json\r\nContent-Length: "
                + body.length + "\r\nConnection: close\r\n\r\n";
        byte[] all = head.getBytes(StandardCharsets.ISO_8859_1);
        byte[] out = Arrays.copyOf(all, all.length + body.length);
        System.arraycopy(body, 0, out, all.length, body.length);
        return out;
    }

    /**
     * Closes after the response is out, reading (briefly, a bounded amount) what the client still sends: closing with
     * unread input resets the connection, and the reset can destroy the response before the client has read it.
     */
    static void linger(Socket socket) {
        try {
            socket.shutdownOutput();
            socket.setSoTimeout((int) LINGER_MS);
            InputStream in = socket.getInputStream();
            byte[] sink = new byte[8192];
            long end = System.nanoTime() + LINGER_MS * 1_000_000, read = 0;
            for (int n; read < LINGER_BYTES && System.nanoTime() < end && (n = in.read(sink)) != -1; ) read += n;
        } catch (IOException ignored) {
            // closing anyway
        }
    }
}
