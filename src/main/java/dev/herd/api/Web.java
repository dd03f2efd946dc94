package dev.herd.api;


import java.io.IOException;
import java.io.InputStream;
import java.util.Map;

/** The chat page: static files from the jar's {@code web/} folder. */
final class Web {
    private static final Map<String, String> FILES = Map.of(
            "/index.html", "text/html; charset=utf-8",
            "/app.js", "text/javascript; charset=utf-8",
            "/style.css", "text/css; charset=utf-8");

    private Web() {}

    static boolean serves(String path) {
        return path.equals("/") || FILES.containsKey(path);
    }

    static int send(Exchange ex, String path) throws IOException {
        String file = path.equals("/") ? "/index.html" : path;
        try (InputStream in = Web.class.getResourceAsStream("/web" + file)) {
            if (in == null) throw new ApiError(404, "invalid_request_error", null, "not_found", file + " is not in this build");
            Http.send(ex, 200, FILES.get(file), in.readAllBytes());
        }
        return 200;
    }
}
