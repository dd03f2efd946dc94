package dev.herd.api;

import com.sun.net.httpserver.Headers;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * One request and its response on a {@link HttpConnection}, shaped like the JDK's {@code HttpExchange}:
 * {@code sendResponseHeaders(status, n)} sends n bytes of body, none for -1, chunks (to the end of the connection on
 * HTTP/1.0) for 0.
 */
final class Exchange {
    private static final byte[] CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    private final Head head;
    private final Bodies.In body;
    private final OutputStream raw;
    private final InetSocketAddress local, remote;
    private final Headers responseHeaders = new Headers();
    private boolean expectContinue;
    private int status = -1;
    private OutputStream out;
    private boolean keepAlive;

    Exchange(Head head, Bodies.In body, OutputStream raw, InetSocketAddress local, InetSocketAddress remote) {
        this.head = head;
        this.body = body;
        this.raw = raw;
        this.local = local;
        this.remote = remote;
        this.expectContinue = "100-continue".equalsIgnoreCase(head.headers().getFirst("Expect"));
        this.keepAlive = !head.http10() && !"close".equalsIgnoreCase(head.headers().getFirst("Connection"));
    }

    String getRequestMethod() {
        return head.method();
    }

    URI getRequestURI() {
        return head.uri();
    }

    Headers getRequestHeaders() {
        return head.headers();
    }

    Headers getResponseHeaders() {
        return responseHeaders;
    }

    InetSocketAddress getLocalAddress() {
        return local;
    }

    InetSocketAddress getRemoteAddress() {
        return remote;
    }

    int getResponseCode() {
        return status;
    }

    /** The body; a client that waits for "100 Continue" is told to send it now. */
    InputStream getRequestBody() throws IOException {
        if (expectContinue && status == -1) {
            raw.write(CONTINUE);
            raw.flush();
        }
        expectContinue = false;
        return body;
    }

    OutputStream getResponseBody() {
        if (out == null) throw new IllegalStateException("response headers not sent");
        return out;
    }

    void sendResponseHeaders(int status, long length) throws IOException {
        if (this.status != -1) throw new IOException("response headers already sent");
        this.status = status;
        boolean none = length == -1 || status == 204 || status == 304, chunked = !none && length == 0;
        if (chunked && head.http10()) keepAlive = false; // the end of the connection ends the body
        // An answer before the request's body was read (a 401, a 415) ends the connection, and says so: a client that
        // took it as open would send its next request on a socket closing under it.
        if (!body.ended()) keepAlive = false;
        StringBuilder h = new StringBuilder("HTTP/1.1 ").append(status).append(' ').append(reason(status)).append("\r\n");
        for (Map.Entry<String, List<String>> e : responseHeaders.entrySet()) {
            for (String v : e.getValue()) h.append(e.getKey()).append(": ").append(v).append("\r\n");
        }
        if (chunked && !head.http10()) h.append("Transfer-Encoding: chunked\r\n");
        else if (status != 204 && status != 304 && !chunked) h.append("Content-Length: ").append(none ? 0 : length).append("\r\n");
        if (!keepAlive) h.append("Connection: close\r\n");
        raw.write(h.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
        boolean bodiless = none || head.method().equals("HEAD");
        OutputStream target = bodiless ? OutputStream.nullOutputStream() : raw;
        out = chunked && !bodiless && !head.http10() ? Bodies.chunkedOut(raw) : new OutputStream() { // closing it ends only the response
            @Override
            public void write(int b) throws IOException {
                target.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                target.write(b, off, len);
            }

            @Override
            public void flush() throws IOException {
                raw.flush();
            }

            @Override
            public void close() throws IOException {
                raw.flush();
            }
        };
    }

    /** Ends the response (its last chunk) if it was started. */
    void close() throws IOException {
        if (out != null) out.close();
    }

    /** Whether the connection may carry another request: both sides said all, and nobody asked to close. */
    boolean reusable() {
        return keepAlive && status != -1 && body.ended();
    }

    static String reason(int status) {
        return switch (status) {
            case 200 -> "OK";
            case 204 -> "No Content";
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 408 -> "Request Timeout";
            case 413 -> "Content Too Large";
            case 415 -> "Unsupported Media Type";
            case 429 -> "Too Many Requests";
            case 431 -> "Request Header Fields Too Large";
            case 503 -> "Service Unavailable";
            default -> status >= 500 ? "Error" : "Status";
        };
    }
}
