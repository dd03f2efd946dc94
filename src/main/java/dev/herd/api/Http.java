package dev.herd.api;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.OutputStream;

/** Response writing shared by the handlers. */
final class Http {
    private Http() {}

    /**
     * A failure after the response was committed ({@link ClientWatch}): the connection must end without completing
     * the response, so that the client sees it fail. The server ends it when the handler throws.
     */
    static final class Abort extends RuntimeException {
        Abort(RuntimeException cause) {
            super(cause.getMessage(), cause);
        }
    }

    static void json(Exchange ex, ObjectMapper json, int status, Object body) throws IOException {
        send(ex, status, "application/json", json.writeValueAsBytes(body));
    }

    static void send(Exchange ex, int status, String contentType, byte[] body) throws IOException {
        if (contentType != null) ex.getResponseHeaders().set("Content-Type", contentType);
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }
}
