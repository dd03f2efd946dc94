package dev.herd.api;

import java.io.IOException;

/** A client fault found while reading a request (its head, framing or body): answered with this JSON status. */
final class HttpFault extends IOException {
    final int status;
    final String code;

    HttpFault(int status, String code, String message) {
        super(message);
        this.status = status;
        this.code = code;
    }

    static HttpFault bad(String message) {
        return new HttpFault(400, "bad_request", message);
    }

    ApiError error() {
        return new ApiError(status, "invalid_request_error", null, code, getMessage());
    }
}
