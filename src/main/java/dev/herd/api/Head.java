package dev.herd.api;

import com.sun.net.httpserver.Headers;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;

/**
 * A request line and its headers, read within bounds: {@value #MAX_LINE} bytes a line, {@value #MAX_HEAD} in all,
 * {@value #MAX_HEADERS} headers. Anything malformed is a {@link HttpFault}.
 */
record Head(String method, URI uri, boolean http10, Headers headers) {
    static final int MAX_LINE = 8192, MAX_HEAD = 32 * 1024, MAX_HEADERS = 100;

    /** @return null when the client closed, or said nothing before the deadline, between requests */
    static Head read(InputStream in) throws IOException {
        Lines lines = new Lines(in, MAX_HEAD);
        String request;
        try {
            do request = lines.next(); while (request != null && request.isEmpty()); // RFC 9112 2.2: ignore empty lines first
        } catch (HttpFault f) {
            if (f.status == 408 && lines.total == 0) return null; // idle, not slow
            throw f;
        }
        if (request == null) {
            if (lines.total == 0) return null;
            throw HttpFault.bad("the request head ended early");
        }
        String[] parts = request.split(" ", -1);
        if (parts.length != 3 || !token(parts[0])) throw HttpFault.bad("malformed request line");
        boolean http10 = switch (parts[2]) {
            case "HTTP/1.1" -> false;
            case "HTTP/1.0" -> true;
            default -> throw parts[2].startsWith("HTTP/")
                    ? new HttpFault(400, "unsupported_http_version", "only HTTP/1.0 and HTTP/1.1 are served")
                    : HttpFault.bad("malformed request line");
        };
        return new Head(parts[0], target(parts[1]), http10, headers(lines));
    }

    private static URI target(String t) throws HttpFault {
        if (!t.startsWith("/") && !t.equals("*")) throw HttpFault.bad("the request target must be a path");
        try {
            return new URI(t);
        } catch (URISyntaxException e) {
            throw HttpFault.bad("malformed request target");
        }
    }

    static Headers headers(Lines lines) throws IOException {
        Headers h = new Headers();
        int n = 0;
        for (String line; !(line = lines.next("the request head ended early")).isEmpty(); ) {
            if (++n > MAX_HEADERS) throw new HttpFault(431, "headers_too_large", "more than " + MAX_HEADERS + " headers");
            int colon = line.indexOf(':');
            if (colon <= 0 || !token(line.substring(0, colon))) throw HttpFault.bad("malformed header line");
            String value = line.substring(colon + 1).strip();
            if (value.chars().anyMatch(c -> c < 0x20 && c != '\t' || c == 0x7f)) throw HttpFault.bad("control characters in a header value");
            h.add(line.substring(0, colon), value);
        }
        return h;
    }

    /** RFC 9110's token: what method and header names are made of. */
    private static boolean token(String s) {
        return !s.isEmpty() && s.chars().allMatch(c -> c > 0x20 && c < 0x7f && "\"(),/:;<=>?@[\\]{}".indexOf(c) < 0);
    }

    /** CRLF (or bare LF) ended ISO-8859-1 lines, bounded one by one and in all. */
    static final class Lines {
        private final InputStream in;
        private final byte[] line = new byte[MAX_LINE];
        private final long max;
        long total;

        /** @param max bytes in all lines, or 0 for no bound but each line's */
        Lines(InputStream in, long max) {
            this.in = in;
            this.max = max;
        }

        /** @return null at EOF before any byte of the line */
        String next() throws IOException {
            int n = 0;
            for (int c; (c = in.read()) != '\n'; ) {
                if (c == -1) {
                    if (n == 0) return null;
                    throw HttpFault.bad("the request head ended early");
                }
                if (++total > max && max > 0) throw new HttpFault(431, "headers_too_large", "the request head exceeds " + max + " bytes");
                if (n == MAX_LINE) throw new HttpFault(431, "headers_too_large", "a line of the request head exceeds " + MAX_LINE + " bytes");
                line[n++] = (byte) c;
            }
            total++;
            if (n > 0 && line[n - 1] == '\r') n--;
            return new String(line, 0, n, StandardCharsets.ISO_8859_1);
        }

        String next(String eof) throws IOException {
            String l = next();
            if (l == null) throw HttpFault.bad(eof);
            return l;
        }
    }
}
