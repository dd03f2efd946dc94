package dev.herd.api;

import java.util.LinkedHashMap;
import java.util.Map;

/** A request that fails with an HTTP status and OpenAI's error body {@code {"error":{message,type,param,code}}}. */
final class ApiError extends RuntimeException {
    final int status;
    final String type, param, code;

    ApiError(int status, String type, String param, String code, String message) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    static ApiError invalid(String param, String message) {
        return new ApiError(400, "invalid_request_error", param, null, message);
    }

    static ApiError unsupported(String param) {
        return new ApiError(400, "invalid_request_error", param, "unsupported_parameter", "'" + param + "' is not supported by this server");
    }

    Map<String, Object> body() {
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("message", getMessage());
        error.put("type", type);
        error.put("param", param);
        error.put("code", code);
        return Map.of("error", error);
    }
}
