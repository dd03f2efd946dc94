package dev.herd.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * An OpenAI-compatible HTTP server over one model: a virtual thread per connection, generations one at a time
 * through {@link Engine}. Every failure becomes an OpenAI-style JSON error; none stops the server.
 */
public final class ApiServer implements AutoCloseable {
    private static final int MAX_BODY = 4 << 20;

    /**
     * @param apiKey       null to accept every request
     * @param queue        requests that may wait while one generates
     * @param tokenDelayMs pause after each token (0 in production; to watch streaming or test slow requests)
     */
    public record Options(String host, int port, String apiKey, int queue, long tokenDelayMs) {}

    private final ObjectMapper json = new ObjectMapper();
    private final Metrics metrics = new Metrics();
    private final Options options;
    private final Engine engine;
    private final Completions completions;
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
    private final HttpServer server;

    private ApiServer(Supplier<Backend> opener, Options options) throws IOException {
        if (options.queue() < 0) throw new IllegalArgumentException("queue must be >= 0");
        this.options = options;
        this.engine = new Engine(opener, options.queue(), options.tokenDelayMs(), metrics);
        this.completions = new Completions(engine, json);
        try {
            server = HttpServer.create(new InetSocketAddress(options.host(), options.port()), 64);
        } catch (IOException e) {
            engine.close();
            throw e;
        }
        server.setExecutor(threads);
        server.createContext("/", this::handle);
        server.start();
    }

    /** Opens the model and serves it until {@link #close}. */
    public static ApiServer start(Supplier<Backend> opener, Options options) throws IOException {
        return new ApiServer(opener, options);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public String modelName() {
        return engine.modelName();
    }

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        int status = 500;
        boolean counted = false;
        Http.Abort abort = null;
        try {
            ex.getResponseHeaders().set("Access-Control-Allow-Origin", "*");
            status = route(ex, path, ex.getRequestMethod());
        } catch (Http.Abort e) {
            status = ex.getResponseCode(); // the committed 200, as for an error inside a stream
            abort = e;
            if (!(e.getCause() instanceof ApiError)) {
                System.err.println("herd api: " + ex.getRequestMethod() + " " + path + ": " + e.getCause());
            }
        } catch (ApiError e) {
            status = e.status;
            counted = count(path, status);
            fail(ex, e);
        } catch (Exception e) {
            System.err.println("herd api: " + ex.getRequestMethod() + " " + path + ": " + e);
            counted = count(path, status);
            fail(ex, new ApiError(500, "server_error", null, null, "internal error: " + e));
        } finally {
            if (abort == null) ex.close(); // close() would end the body with its final chunk
            if (!counted) metrics.request(path, status);
        }
        // The JDK server closes the connection of a handler that throws, without completing the response.
        if (abort != null) throw new IOException("response aborted after it was committed: " + abort.getMessage(), abort);
    }

    /** Counts an error answer before it is sent: a client may read /metrics as soon as it has the answer. */
    private boolean count(String path, int status) {
        metrics.request(path, status);
        return true;
    }

    private int route(HttpExchange ex, String path, String method) throws IOException {
        if (method.equals("OPTIONS")) {
            ex.getResponseHeaders().set("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            ex.getResponseHeaders().set("Access-Control-Allow-Headers", "Content-Type, Authorization");
            Http.send(ex, 204, null, new byte[0]);
            return 204;
        }
        if (path.equals("/health")) return get(ex, method, () -> Map.of("status", "ok", "model", engine.modelName()));
        if (Web.serves(path)) {
            expect(method, "GET");
            return Web.send(ex, path);
        }
        authorize(ex);
        return switch (path) {
            case "/v1/models" -> get(ex, method, () -> Map.of("object", "list", "data",
                    List.of(Map.of("id", engine.modelName(), "object", "model", "created", 0, "owned_by", "herd"))));
            case "/metrics" -> {
                expect(method, "GET");
                Http.send(ex, 200, "text/plain; version=0.0.4; charset=utf-8",
                        metrics.render(engine.queued(), engine.busy()).getBytes(StandardCharsets.UTF_8));
                yield 200;
            }
            case "/v1/chat/completions", "/v1/completions" -> {
                expect(method, "POST");
                yield completions.handle(ex, path.equals("/v1/chat/completions"), body(ex));
            }
            default -> throw new ApiError(404, "invalid_request_error", null, "not_found", "no route " + method + " " + path);
        };
    }

    private int get(HttpExchange ex, String method, Supplier<Object> body) throws IOException {
        expect(method, "GET");
        Http.json(ex, json, 200, body.get());
        return 200;
    }

    private static void expect(String method, String wanted) {
        if (!method.equals(wanted)) throw new ApiError(405, "invalid_request_error", null, "method_not_allowed", "use " + wanted);
    }

    private void authorize(HttpExchange ex) {
        if (options.apiKey() == null) return;
        String given = ex.getRequestHeaders().getFirst("Authorization");
        byte[] expected = ("Bearer " + options.apiKey()).getBytes(StandardCharsets.UTF_8);
        if (given == null || !MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8), expected)) {
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer");
            throw new ApiError(401, "invalid_request_error", null, "invalid_api_key", "a valid API key is needed: Authorization: Bearer KEY");
        }
    }

    private JsonNode body(HttpExchange ex) throws IOException {
        byte[] bytes;
        try (InputStream in = ex.getRequestBody()) {
            bytes = in.readNBytes(MAX_BODY + 1);
        }
        if (bytes.length > MAX_BODY) throw new ApiError(413, "invalid_request_error", null, "body_too_large", "the body exceeds " + MAX_BODY + " bytes");
        try {
            return json.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw ApiError.invalid(null, "malformed JSON: " + e.getOriginalMessage());
        }
    }

    private void fail(HttpExchange ex, ApiError e) {
        if (ex.getResponseCode() != -1) return; // headers already sent (a stream): nothing more to say
        try {
            Http.json(ex, json, e.status, e.body());
        } catch (IOException ignored) {
            // the client is gone
        }
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow(); // requests still queued fail fast; the running generation ends before the model closes
        engine.close();
    }
}
