package dev.herd.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herd.cluster.ClusterRunner;
import dev.herd.cluster.SyncCodec;
import dev.herd.engine.Model;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Supplier;

/** A real {@code herd api} server on a free loopback port over the committed stories15M fixture, and a client for it. */
final class TestApi implements AutoCloseable {
    static final Path FIXTURE = Path.of("src/main/resources/models/stories15M-q8_0.gguf");
    static final ObjectMapper JSON = new ObjectMapper();

    final ApiServer server;
    final String key;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    TestApi(String key, int queue, long tokenDelayMs) {
        this(key, queue, tokenDelayMs, () -> {
            Model m = Model.open(FIXTURE, null, 0, 1);
            return new Backend(m, null, m::close);
        });
    }

    TestApi(String key, int queue, long tokenDelayMs, Supplier<Backend> opener) {
        this.key = key;
        try {
            server = ApiServer.start(opener, new ApiServer.Options("127.0.0.1", 0, key, queue, tokenDelayMs));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** herd api over the fixture split across the root and these workers, with q80 sync. */
    static TestApi split(String key, int queue, long tokenDelayMs, List<String> workers) {
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        return new TestApi(key, queue, tokenDelayMs, () -> {
            ClusterRunner cluster = new ClusterRunner(workers, null, SyncCodec.Q80, quiet);
            Model m = Model.open(FIXTURE, null, 0, 1, cluster);
            return new Backend(m, cluster.stats(), () -> {
                m.close();
                cluster.close();
            });
        });
    }

    String url(String path) {
        return "http://127.0.0.1:" + server.port() + path;
    }

    HttpResponse<String> get(String path) {
        return send(request(path).GET().build());
    }

    HttpResponse<String> post(String path, String body) {
        return send(request(path).POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    JsonNode ok(String path, String body) {
        HttpResponse<String> r = post(path, body);
        if (r.statusCode() != 200) throw new AssertionError(r.statusCode() + " " + r.body());
        return json(r.body());
    }

    /** The JSON of each {@code data:} event of a stream, and "[DONE]" as text. */
    List<JsonNode> events(String path, String body) {
        HttpResponse<String> r = post(path, body);
        if (r.statusCode() != 200) throw new AssertionError(r.statusCode() + " " + r.body());
        return r.body().lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6))
                .map(d -> d.equals("[DONE]") ? JSON.getNodeFactory().textNode(d) : json(d)).toList();
    }

    static JsonNode json(String s) {
        try {
            return JSON.readTree(s);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url(path))).header("Content-Type", "application/json");
        return key == null ? b : b.header("Authorization", "Bearer " + key);
    }

    private HttpResponse<String> send(HttpRequest r) {
        try {
            return http.send(r, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        server.close();
        http.close();
    }
}
