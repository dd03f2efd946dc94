package dev.herd.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * An OpenAI-compatible HTTP server over one model: a virtual thread per connection ({@link HttpFront}), generations
 * in the model's slots, batched together, through {@link Engine}. Every failure becomes an OpenAI-style JSON error; none stops the server.
 */
public final class ApiServer implements AutoCloseable {
    private static final int MAX_BODY = 4 << 20;

    /**
     * @param apiKey       null to accept every request
     * @param queue        requests that may wait while every slot generates
     * @param tokenDelayMs pause after each token (0 in production; to watch streaming or test slow requests)
     * @param cors         the origin whose pages may call the API from a browser (or "*"), null for none
     */
    public record Options(String host, int port, String apiKey, int queue, long tokenDelayMs, String cors, HttpLimits limits) {
        public Options(String host, int port, String apiKey, int queue, long tokenDelayMs) {
            this(host, port, apiKey, queue, tokenDelayMs, null, HttpLimits.DEFAULT);
        }
    }

    private final ObjectMapper json = new ObjectMapper();
    private final Metrics metrics = new Metrics();
    private final Options options;
    private final Engine engine;
    private final Completions completions;
    private final Embeddings embeddings;
    private final HttpFront front;

    private ApiServer(Supplier<Backend> opener, Options options) throws IOException {
        if (options.queue() < 0) throw new IllegalArgumentException("queue must be >= 0");
        this.options = options;
        this.engine = new Engine(opener, options.queue(), options.tokenDelayMs(), metrics);
        this.completions = new Completions(engine, json);
        this.embeddings = new Embeddings(engine, json);
        try {
            front = new HttpFront(new InetSocketAddress(options.host(), options.port()), options.limits(), this::handle);
        } catch (IOException e) {
            engine.close();
            throw e;
        }
    }

    /** Opens the model and serves it until {@link #close}. */
    public static ApiServer start(Supplier<Backend> opener, Options options) throws IOException {
        return new ApiServer(opener, options);
    }

    public int port() {
        return front.port();
    }

    public String modelName() {
        return engine.modelName();
    }

    /** Requests served at once: the model's slots. */
    public int slots() {
        return engine.slots();
    }

    private void handle(Exchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        int status = 500;
        boolean counted = false;
        Http.Abort abort = null;
        IOException gone = null;
        try {
            if (options.cors() != null) {
                ex.getResponseHeaders().set("Access-Control-Allow-Origin", options.cors());
                ex.getResponseHeaders().set("Vary", "Origin");
            }
            checkHost(ex);
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
        } catch (IOException e) { // the client went away mid-request: nobody to answer
            counted = true;
            gone = e;
        } catch (RuntimeException e) { // a bug: its details go to the log, not to the client
            System.err.println("herd api: " + ex.getRequestMethod() + " " + path + ": " + e);
            counted = count(path, status);
            fail(ex, new ApiError(500, "server_error", null, null, "internal error (logged by the server)"));
        } finally {
            if (abort == null && gone == null) ex.close(); // close() would end the body with its final chunk
            if (!counted) metrics.request(path, status);
        }
        // The connection of a handler that throws ends at once, without completing the response.
        if (gone != null) throw gone;
        if (abort != null) throw new IOException("response aborted after it was committed: " + abort.getMessage(), abort);
    }

    /** Counts an error answer before it is sent: a client may read /metrics as soon as it has the answer. */
    private boolean count(String path, int status) {
        metrics.request(path, status);
        return true;
    }

    /**
     * On a loopback address, only requests naming a loopback host: a web page whose own name an attacker points at
     * 127.0.0.1 (DNS rebinding) is same-origin to the browser, CORS or not, but sends its own name as the Host.
     */
    private void checkHost(Exchange ex) {
        if (!ex.getLocalAddress().getAddress().isLoopbackAddress()) return;
        String host = ex.getRequestHeaders().getFirst("Host");
        if (host == null) return; // HTTP/1.0: no page sends it
        String name = host.startsWith("[") ? host.substring(1, Math.max(1, host.indexOf(']'))) : host.replaceFirst(":\\d*$", "");
        boolean loopback = name.equalsIgnoreCase("localhost") || name.toLowerCase(Locale.ROOT).endsWith(".localhost");
        try {
            loopback |= InetAddress.ofLiteral(name).isLoopbackAddress();
        } catch (IllegalArgumentException notAnAddress) {
            // a name: only localhost counts
        }
        if (!loopback) {
            throw new ApiError(403, "invalid_request_error", null, "forbidden_host",
                    "this server listens on loopback and answers only requests for localhost or a loopback address");
        }
    }

    private int route(Exchange ex, String path, String method) throws IOException {
        if (method.equals("OPTIONS") && options.cors() != null) { // a browser's preflight
            ex.getResponseHeaders().set("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            ex.getResponseHeaders().set("Access-Control-Allow-Headers", "Content-Type, Authorization");
            Http.send(ex, 204, null, new byte[0]);
            return 204;
        }
        if (path.equals("/health")) return health(ex, method);
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
            case "/v1/embeddings" -> {
                expect(method, "POST");
                yield embeddings.handle(ex, body(ex));
            }
            default -> throw new ApiError(404, "invalid_request_error", null, "not_found", "no route " + method + " " + path);
        };
    }

    /** 200 when the model can serve, with every worker answering; 503 saying which worker is lost otherwise. */
    private int health(Exchange ex, String method) throws IOException {
        expect(method, "GET");
        String why = engine.unavailable();
        if (why == null) {
            Http.json(ex, json, 200, Map.of("status", "ok", "model", engine.modelName()));
            return 200;
        }
        Http.json(ex, json, 503, Map.of("status", "unavailable", "model", engine.modelName(), "error", why));
        return 503;
    }

    private int get(Exchange ex, String method, Supplier<Object> body) throws IOException {
        expect(method, "GET");
        Http.json(ex, json, 200, body.get());
        return 200;
    }

    private static void expect(String method, String wanted) {
        if (!method.equals(wanted)) throw new ApiError(405, "invalid_request_error", null, "method_not_allowed", "use " + wanted);
    }

    private void authorize(Exchange ex) {
        if (options.apiKey() == null) return;
        String given = ex.getRequestHeaders().getFirst("Authorization");
        byte[] expected = ("Bearer " + options.apiKey()).getBytes(StandardCharsets.UTF_8);
        if (given == null || !MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8), expected)) {
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer");
            throw new ApiError(401, "invalid_request_error", null, "invalid_api_key", "a valid API key is needed: Authorization: Bearer KEY");
        }
    }

    /**
     * The JSON body. Only {@code application/json}: a web page of another origin cannot send that without the
     * preflight that {@code --cors} alone answers, so without it no page can drive the API (not even blindly).
     */
    private JsonNode body(Exchange ex) throws IOException {
        String type = ex.getRequestHeaders().getFirst("Content-Type");
        if (type == null || !type.toLowerCase(Locale.ROOT).startsWith("application/json")) {
            throw new ApiError(415, "invalid_request_error", null, "unsupported_media_type", "the body must be JSON, sent as Content-Type: application/json");
        }
        String length = ex.getRequestHeaders().getFirst("Content-Length");
        if (length != null && Long.parseLong(length) > MAX_BODY) throw tooLarge();
        byte[] bytes;
        try (InputStream in = ex.getRequestBody()) {
            bytes = in.readNBytes(MAX_BODY + 1);
        } catch (HttpFault f) {
            throw f.error();
        }
        if (bytes.length > MAX_BODY) throw tooLarge();
        try {
            return json.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw ApiError.invalid(null, "malformed JSON: " + e.getOriginalMessage());
        }
    }

    private static ApiError tooLarge() {
        return new ApiError(413, "invalid_request_error", null, "body_too_large", "the body exceeds " + MAX_BODY + " bytes");
    }

    private void fail(Exchange ex, ApiError e) {
        if (ex.getResponseCode() != -1) return; // headers already sent (a stream): nothing more to say
        try {
            Http.json(ex, json, e.status, e.body());
        } catch (IOException ignored) {
            // the client is gone
        }
    }

    @Override
    public void close() {
        front.close(); // requests still queued fail fast; the running generation ends before the model closes
        engine.close();
    }
}
