package dev.herd.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herd.cluster.ClusterRunner;
import dev.herd.cluster.SyncCodec;
import dev.herd.engine.Model;
import dev.herd.engine.Runner;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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
            return new Backend(m, m::close);
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

    /** herd api --parallel N over the fixture. */
    static TestApi parallel(int parallel, int queue, long tokenDelayMs) {
        return new TestApi(null, queue, tokenDelayMs, () -> {
            Model m = Model.open(FIXTURE, null, 0, parallel, 1, Runner.LOCAL, new PrintStream(OutputStream.nullOutputStream()));
            return new Backend(m, m::close);
        });
    }

    /** herd api over the fixture split across the root and these workers, with q80 sync. */
    static TestApi split(String key, int queue, long tokenDelayMs, List<String> workers) {
        return split(key, queue, tokenDelayMs, workers, 1);
    }

    /** As above, with {@code parallel} slots. */
    static TestApi split(String key, int queue, long tokenDelayMs, List<String> workers, int parallel) {
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        return new TestApi(key, queue, tokenDelayMs, () -> {
            ClusterRunner cluster = new ClusterRunner(workers, null, SyncCodec.Q80, quiet);
            Model m = Model.open(FIXTURE, null, 0, parallel, 1, cluster, quiet);
            return new Backend(m, cluster.stats(), () -> {
                m.close();
                cluster.close();
            }, cluster::unanswered);
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

    /** A raw HTTP/1.1 client: sends the request and leaves the socket to the test (close it, shut its output down). */
    Socket open(String path, String body) {
        try {
            Socket s = new Socket("127.0.0.1", server.port());
            s.setSoTimeout(120_000);
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            String head = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " + bytes.length
                    + (key == null ? "" : "\r\nAuthorization: Bearer " + key) + "\r\n\r\n";
            OutputStream out = s.getOutputStream();
            out.write(head.getBytes(StandardCharsets.US_ASCII));
            out.write(bytes);
            out.flush();
            return s;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A response read off a raw socket; {@code complete}: its body ended as its framing says (not cut by a close). */
    record Raw(int status, Map<String, String> headers, String body, boolean complete) {}

    /** Reads the status line and the headers. */
    static Raw head(InputStream in) throws IOException {
        String status = line(in);
        if (status == null) throw new EOFException("no response");
        Map<String, String> headers = new HashMap<>();
        for (String l; (l = line(in)) != null && !l.isEmpty(); ) {
            int colon = l.indexOf(':');
            headers.put(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
        }
        return new Raw(Integer.parseInt(status.split(" ")[1]), headers, "", false);
    }

    /** Reads the body that follows {@code head}: chunked up to the last chunk, or Content-Length bytes; or up to EOF. */
    static Raw body(InputStream in, Raw head) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        boolean complete = false;
        if ("chunked".equalsIgnoreCase(head.headers().get("transfer-encoding"))) {
            for (String size; (size = line(in)) != null; ) {
                int n = Integer.parseInt(size.trim(), 16);
                if (n == 0) {
                    complete = "".equals(line(in));
                    break;
                }
                byte[] chunk = in.readNBytes(n);
                body.write(chunk);
                if (chunk.length < n || !"".equals(line(in))) break;
            }
        } else {
            int n = Integer.parseInt(head.headers().getOrDefault("content-length", "0"));
            byte[] all = in.readNBytes(n);
            body.write(all);
            complete = all.length == n;
        }
        return new Raw(head.status(), head.headers(), body.toString(StandardCharsets.UTF_8), complete);
    }

    /** One CRLF-ended line, without the CRLF; null at EOF. */
    private static String line(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        for (int c; (c = in.read()) != '\n'; ) {
            if (c == -1) return b.isEmpty() ? null : b.toString();
            if (c != '\r') b.append((char) c);
        }
        return b.toString();
    }

    /** The value of a metric without labels. */
    long counter(String name) {
        return get("/metrics").body().lines().filter(l -> l.startsWith(name + " ")).mapToLong(l -> Long.parseLong(l.substring(name.length() + 1)))
                .findFirst().orElseThrow(() -> new AssertionError("no metric " + name));
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
