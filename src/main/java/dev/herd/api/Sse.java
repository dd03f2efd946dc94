package dev.herd.api;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * A server-sent event stream, opened with the first event so that errors found before any output are still plain
 * HTTP errors. Each event is flushed; a failed write means the client left: it cancels the request, which generation
 * checks between tokens.
 */
final class Sse {
    private final Exchange exchange;
    private final ObjectMapper json;
    private final Cancellation cancel;
    private OutputStream out;

    Sse(Exchange exchange, ObjectMapper json, Cancellation cancel) {
        this.exchange = exchange;
        this.json = json;
        this.cancel = cancel;
    }

    boolean opened() {
        return out != null;
    }

    void send(Object event) {
        try {
            write("data: " + json.writeValueAsString(event) + "\n\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e); // serialising our own maps does not fail
        }
    }

    void done() {
        write("data: [DONE]\n\n");
    }

    private void write(String event) {
        if (cancel.cancelled()) return;
        try {
            if (out == null) {
                exchange.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
                exchange.getResponseHeaders().set("Cache-Control", "no-cache");
                exchange.sendResponseHeaders(200, 0);
                out = exchange.getResponseBody();
            }
            out.write(event.getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            cancel.cancel();
        }
    }
}
