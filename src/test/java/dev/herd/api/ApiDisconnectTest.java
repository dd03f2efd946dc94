package dev.herd.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

import java.io.InputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Clients of whole (non-streaming) answers that leave, through raw sockets: one generation at a time, a queue of one,
 * 100 ms per token so that 240 tokens would take 24 s. Linux only: elsewhere such a request runs to its end.
 */
@EnabledOnOs(OS.LINUX)
class ApiDisconnectTest {
    static TestApi api;

    @BeforeAll
    static void start() {
        api = new TestApi(null, 1, 100);
    }

    @AfterAll
    static void stop() {
        api.close();
    }

    /** The fixture tells this story past 240 tokens without an end-of-text token. */
    static final String LONG = "{\"prompt\":\"Once upon a time\",\"max_tokens\":240,\"temperature\":0}";
    static final String SHORT = "{\"prompt\":\"Hi\",\"max_tokens\":3}";

    @Test
    void aClientThatClosesDuringAWholeGenerationStopsItAndTheNextRequestRuns() throws Exception {
        long cancelled = api.counter("herd_cancelled_total"), generated = api.counter("herd_generated_tokens_total");
        CompletableFuture<HttpResponse<String>> next;
        try (Socket client = api.open("/v1/completions", LONG)) {
            await(() -> metric("herd_busy 1"));
            next = CompletableFuture.supplyAsync(() -> api.post("/v1/completions", SHORT));
            await(() -> metric("herd_queue_depth 1"));
        } // a full close, some tokens into the generation
        HttpResponse<String> second = next.get(60, TimeUnit.SECONDS);
        assertThat(second.statusCode()).isEqualTo(200);
        assertThat(api.counter("herd_cancelled_total")).isEqualTo(cancelled + 1);
        long first = api.counter("herd_generated_tokens_total") - generated - TestApi.json(second.body()).at("/usage/completion_tokens").asInt();
        assertThat(first).as("tokens generated for the client that left").isBetween(1L, 120L);
        assertThat(api.get("/metrics").body()).contains("herd_busy 0", "herd_queue_depth 0");
    }

    @Test
    void aClientThatClosesWhileQueuedLeavesTheQueueAndNeverGenerates() throws Exception {
        long cancelled = api.counter("herd_cancelled_total"), generated = api.counter("herd_generated_tokens_total");
        CompletableFuture<HttpResponse<String>> last;
        try (Socket running = api.open("/v1/completions", LONG)) {
            await(() -> metric("herd_busy 1"));
            try (Socket queued = api.open("/v1/completions", LONG)) {
                await(() -> metric("herd_queue_depth 1"));
            }
            await(() -> api.counter("herd_cancelled_total") == cancelled + 1);
            await(() -> metric("herd_queue_depth 0"));
            assertThat(metric("herd_busy 1")).as("the first one still generates").isTrue();
            assertThat(api.counter("herd_generated_tokens_total")).as("no generation ended").isEqualTo(generated);
            // the place is free again: a request waits in it instead of getting 429
            last = CompletableFuture.supplyAsync(() -> api.post("/v1/completions", SHORT));
            await(() -> metric("herd_queue_depth 1"));
        }
        assertThat(last.get(60, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        assertThat(api.counter("herd_cancelled_total")).isEqualTo(cancelled + 2);
    }

    @Test
    void aHalfClosedClientStillGetsItsWholeAnswer() throws Exception {
        String body = "{\"prompt\":\"Once upon a time\",\"max_tokens\":12,\"temperature\":0,\"seed\":1}"; // 1.2 s: the watch writes first
        String expected = api.ok("/v1/completions", body).at("/choices/0/text").asText();
        long cancelled = api.counter("herd_cancelled_total");
        try (Socket client = api.open("/v1/completions", body)) {
            client.shutdownOutput(); // the request is all sent; the answer is still wanted
            InputStream in = client.getInputStream();
            TestApi.Raw r = TestApi.body(in, TestApi.head(in));
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.headers().get("content-type")).isEqualTo("application/json");
            assertThat(r.complete()).isTrue();
            assertThat(r.body()).as("the watch's confirming spaces, then the answer").startsWith("  ");
            JsonNode answer = TestApi.json(r.body());
            assertThat(answer.at("/choices/0/text").asText()).isEqualTo(expected);
            assertThat(answer.at("/choices/0/finish_reason").asText()).isEqualTo("length");
            assertThat(answer.at("/usage/completion_tokens").asInt()).isEqualTo(12);
        }
        assertThat(api.counter("herd_cancelled_total")).isEqualTo(cancelled);
    }

    /** Where connection states cannot be read (macOS, Windows): a long request is probed by writing after 5 s. */
    @Test
    void withoutProcNetALongRequestIsProbedAndCancelledAndAShortOneIsUntouched() throws Exception {
        ClientWatch.procNet = false;
        try {
            HttpResponse<String> quick = api.post("/v1/completions", SHORT);
            assertThat(quick.statusCode()).isEqualTo(200);
            assertThat(quick.body()).as("no probing spaces in a short answer").startsWith("{");
            long cancelled = api.counter("herd_cancelled_total"), generated = api.counter("herd_generated_tokens_total");
            try (Socket client = api.open("/v1/completions", LONG)) {
                await(() -> metric("herd_busy 1"));
            }
            await(() -> api.counter("herd_cancelled_total") == cancelled + 1);
            await(() -> metric("herd_busy 0"));
            assertThat(api.counter("herd_generated_tokens_total") - generated).as("tokens for the client that left").isLessThan(200);
        } finally {
            ClientWatch.procNet = TcpTable.available();
        }
    }

    private static boolean metric(String line) {
        return api.get("/metrics").body().lines().anyMatch(line::equals);
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out");
            Thread.sleep(10);
        }
    }
}
