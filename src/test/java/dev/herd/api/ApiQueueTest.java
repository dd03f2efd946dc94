package dev.herd.api;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/** One generation at a time behind a queue of one, with tokens slowed down so that requests overlap. */
class ApiQueueTest {
    static TestApi api;

    @BeforeAll
    static void start() {
        api = new TestApi(null, 1, 40);
    }

    @AfterAll
    static void stop() {
        api.close();
    }

    static final String SLOW = "{\"prompt\":\"Once upon a time\",\"max_tokens\":25,\"temperature\":0}";

    @Test
    void pastTheQueueBoundRequestsGet429AndTheOthersComplete() throws Exception {
        CompletableFuture<HttpResponse<String>> running = CompletableFuture.supplyAsync(() -> api.post("/v1/completions", SLOW));
        await(() -> metric("herd_busy 1"));
        CompletableFuture<HttpResponse<String>> waiting = CompletableFuture.supplyAsync(() -> api.post("/v1/completions", SLOW));
        await(() -> metric("herd_queue_depth 1"));
        HttpResponse<String> rejected = api.post("/v1/completions", SLOW);
        assertThat(rejected.statusCode()).isEqualTo(429);
        assertThat(TestApi.json(rejected.body()).at("/error/code").asText()).isEqualTo("queue_full");
        assertThat(running.get().statusCode()).isEqualTo(200);
        assertThat(waiting.get().statusCode()).isEqualTo(200);
        assertThat(api.get("/metrics").body()).contains("herd_requests_total{endpoint=\"/v1/completions\",status=\"429\"} 1");
    }

    @Test
    void aClientThatLeavesMidStreamFreesTheSlot() throws Exception {
        String body = "{\"prompt\":\"Once upon a time\",\"max_tokens\":200,\"stream\":true}";
        try (Socket s = new Socket("127.0.0.1", api.server.port())) {
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = s.getInputStream();
            StringBuilder seen = new StringBuilder();
            while (!seen.toString().contains("data: ")) seen.append((char) in.read());
        } // gone after the first token, while 200 tokens at 40 ms each would take 8 s
        long t0 = System.nanoTime();
        await(() -> metric("herd_cancelled_total 1"));
        await(() -> metric("herd_busy 0"));
        assertThat((System.nanoTime() - t0) / 1e9).isLessThan(4);
        assertThat(api.post("/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":2}").statusCode()).isEqualTo(200);
    }

    @Test
    void anOverLongPromptIsRefusedWithoutWaitingForTheModel() throws Exception {
        CompletableFuture<HttpResponse<String>> running = CompletableFuture.supplyAsync(() -> api.post("/v1/completions",
                "{\"prompt\":\"Once upon a time\",\"max_tokens\":200,\"temperature\":0}")); // 8 s at 40 ms a token
        await(() -> metric("herd_busy 1"));
        CompletableFuture<HttpResponse<String>> waiting = CompletableFuture.supplyAsync(() -> api.post("/v1/completions", SLOW));
        await(() -> metric("herd_queue_depth 1"));
        // the queue is full: a request that needed the model now would get 429; these need it not at all
        for (String prompt : List.of("hello ".repeat(300), "hello ".repeat(600_000))) { // tokenized; too long to tokenize
            HttpResponse<String> r = api.post("/v1/completions", "{\"prompt\":\"" + prompt + "\"}");
            assertThat(r.statusCode()).isEqualTo(400);
            assertThat(TestApi.json(r.body()).at("/error/code").asText()).isEqualTo("context_length_exceeded");
        }
        assertThat(running).as("refused while the model was still busy").isNotDone();
        assertThat(running.get().statusCode()).isEqualTo(200);
        assertThat(waiting.get().statusCode()).isEqualTo(200);
    }

    private static boolean metric(String line) {
        return api.get("/metrics").body().lines().anyMatch(line::equals);
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out");
            Thread.sleep(10);
        }
    }
}
