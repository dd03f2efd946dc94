package dev.herd.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herd.cluster.Worker;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/** herd api with the model split over three nodes (stories15M's valid count), one worker behind a proxy the test can cut. */
class ApiClusterTest {
    static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());
    static Worker direct, proxied;
    static Proxy proxy;
    static TestApi api;

    @BeforeAll
    static void start() throws IOException {
        direct = new Worker("127.0.0.1", 0, 1, null, QUIET);
        proxied = new Worker("127.0.0.1", 0, 1, null, QUIET);
        Thread.ofPlatform().daemon().start(direct::serve);
        Thread.ofPlatform().daemon().start(proxied::serve);
        proxy = new Proxy(proxied.port());
        api = TestApi.split(null, 4, 20, List.of("127.0.0.1:" + direct.port(), "127.0.0.1:" + proxy.port()));
    }

    @AfterAll
    static void stop() throws IOException {
        api.close();
        proxy.close();
        direct.close();
        proxied.close();
    }

    @Test
    void aLostWorkerFailsTheRequestWith503AndTheNextRequestReformsTheCluster() throws Exception {
        assertThat(api.post("/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":3}").statusCode()).isEqualTo(200);
        assertThat(api.get("/metrics").body()).containsPattern("herd_sync_ms_per_token [0-9.]+");

        CompletableFuture<HttpResponse<String>> cut = CompletableFuture.supplyAsync(
                () -> api.post("/v1/completions", "{\"prompt\":\"Once upon a time\",\"max_tokens\":150}"));
        while (!api.get("/metrics").body().contains("herd_busy 1")) Thread.sleep(10);
        Thread.sleep(200);
        proxy.cut();
        HttpResponse<String> failed = cut.get();
        assertThat(failed.statusCode()).isEqualTo(503);
        assertThat(TestApi.json(failed.body()).at("/error/code").asText()).isEqualTo("model_unavailable");

        HttpResponse<String> again = api.post("/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":3}");
        assertThat(again.statusCode()).as(again.body()).isEqualTo(200);
        assertThat(api.get("/health").statusCode()).isEqualTo(200);
    }

    /** The root's final hidden states are whole on a split model: its embeddings are one node's, up to the q80 sync's rounding. */
    @Test
    void embeddingsOfTheSplitModelAreOneNodes() {
        String body = "{\"input\":\"The cat sat on the mat.\"}";
        JsonNode split = api.ok("/v1/embeddings", body).at("/data/0/embedding");
        JsonNode one;
        try (TestApi single = new TestApi(null, 1, 0)) {
            one = single.ok("/v1/embeddings", body).at("/data/0/embedding");
        }
        assertThat(split.size()).isEqualTo(one.size());
        double cosine = 0;
        for (int i = 0; i < one.size(); i++) cosine += split.get(i).asDouble() * one.get(i).asDouble();
        assertThat(cosine).isGreaterThan(0.999);
        assertThat(api.post("/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":3}").statusCode()).isEqualTo(200);
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void aHalfClosedClientWhoseWorkerIsLostAfterTheCommitted200GetsATruncatedAnswer() throws Exception {
        assertThat(api.post("/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":3}").statusCode()).isEqualTo(200);
        try (Socket client = api.open("/v1/completions", "{\"prompt\":\"Once upon a time\",\"max_tokens\":150}")) {
            client.shutdownOutput(); // still reading: the watch confirms it by writing, which commits a 200
            InputStream in = client.getInputStream();
            TestApi.Raw head = TestApi.head(in);
            assertThat(head.status()).isEqualTo(200);
            proxy.cut();
            TestApi.Raw r = TestApi.body(in, head);
            assertThat(r.complete()).as("the chunked body has no last chunk").isFalse();
            assertThat(r.body()).isBlank(); // only the watch's spaces: no JSON that could pass for an answer
        }
        HttpResponse<String> again = api.post("/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":3}");
        assertThat(again.statusCode()).as(again.body()).isEqualTo(200);
    }

    /** Forwards connections to the worker; {@link #cut} drops the current ones as a lost network would. */
    static final class Proxy implements AutoCloseable {
        private final ServerSocket server = new ServerSocket(0);
        private final List<Socket> open = new CopyOnWriteArrayList<>();

        Proxy(int target) throws IOException {
            Thread.ofPlatform().daemon().start(() -> {
                while (!server.isClosed()) {
                    try {
                        Socket in = server.accept(), out = new Socket("127.0.0.1", target);
                        open.add(in);
                        open.add(out);
                        pump(in, out);
                        pump(out, in);
                    } catch (IOException e) {
                        if (!server.isClosed()) throw new UncheckedIOException(e);
                    }
                }
            });
        }

        int port() {
            return server.getLocalPort();
        }

        void cut() throws IOException {
            for (Socket s : open) s.close();
            open.clear();
        }

        private static void pump(Socket from, Socket to) {
            Thread.ofPlatform().daemon().start(() -> {
                try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                    in.transferTo(out);
                } catch (IOException ignored) {
                    // cut
                }
            });
        }

        @Override
        public void close() throws IOException {
            server.close();
            cut();
        }
    }
}
