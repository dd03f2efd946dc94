package dev.herd.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * herd api --parallel (continuous batching) on the committed stories15M fixture: requests served at once give exactly
 * the text (and logprobs) each gives alone, none is lost, the requests beyond the slots queue and then get 429, and a
 * client that leaves frees its slot.
 */
class ApiParallelTest {
    static TestApi three, two;

    @BeforeAll
    static void start() {
        three = TestApi.parallel(3, 16, 0);
        two = TestApi.parallel(2, 1, 40);
    }

    @AfterAll
    static void stop() {
        three.close();
        two.close();
    }

    /**
     * Eight requests of every kind (streamed or whole, text or chat, stop strings, logprobs, a JSON response format,
     * greedy or sampled), each seeded (a seeded request does not reuse another's cache: its text is its own).
     */
    static List<String[]> requests() {
        List<String[]> r = new ArrayList<>();
        r.add(new String[]{"/v1/completions", "{\"prompt\":\"Once upon a time\",\"max_tokens\":40,\"temperature\":0,\"seed\":1}"});
        r.add(new String[]{"/v1/completions", "{\"prompt\":\"The little dog\",\"max_tokens\":25,\"temperature\":0.9,\"seed\":2,\"stream\":true}"});
        r.add(new String[]{"/v1/completions", "{\"prompt\":\"" + "Tom and Lily played in the park with a red ball. ".repeat(6)
                + "\",\"max_tokens\":30,\"temperature\":0.8,\"seed\":3}"}); // a prompt of several chunks
        r.add(new String[]{"/v1/completions", "{\"prompt\":\"A girl named Sue\",\"max_tokens\":60,\"temperature\":0.9,\"seed\":4,\"stop\":[\"park\",\".\"]}"});
        r.add(new String[]{"/v1/completions", "{\"prompt\":\"The sun\",\"max_tokens\":12,\"temperature\":0.7,\"seed\":5,\"logprobs\":3}"});
        r.add(new String[]{"/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me about Lily as JSON\"}],\"max_tokens\":50,"
                + "\"seed\":6,\"temperature\":0.9,\"response_format\":{\"type\":\"json_object\"}}"});
        r.add(new String[]{"/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":20,\"seed\":7,\"stream\":true}"});
        r.add(new String[]{"/v1/completions", "{\"prompt\":\"Once upon a time\",\"max_tokens\":35,\"temperature\":1.0,\"seed\":8}"});
        return r;
    }

    /** What a reply says, whole or streamed: its text and logprobs, without ids and timings. */
    static String reply(TestApi api, String[] request) {
        HttpResponse<String> r = api.post(request[0], request[1]);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        if (!request[1].contains("\"stream\":true")) {
            JsonNode choice = TestApi.json(r.body()).at("/choices/0");
            return choice.at("/text").asText("") + choice.at("/message/content").asText("") + "|" + choice.get("finish_reason").asText() + "|" + choice.at("/logprobs");
        }
        StringBuilder text = new StringBuilder();
        List<String> data = r.body().lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
        assertThat(data.getLast()).isEqualTo("[DONE]");
        for (String d : data.subList(0, data.size() - 1)) {
            JsonNode choice = TestApi.json(d).at("/choices/0");
            text.append(choice.at("/text").asText("")).append(choice.at("/delta/content").asText(""));
            if (choice.hasNonNull("finish_reason")) text.append("|").append(choice.get("finish_reason").asText());
        }
        return text.toString();
    }

    static void sameTogetherAsAlone(TestApi api, int slots) throws Exception {
        List<String[]> requests = requests();
        List<String> alone = new ArrayList<>();
        for (String[] r : requests) alone.add(reply(api, r));
        for (int round = 0; round < 2; round++) {
            List<CompletableFuture<String>> together = new ArrayList<>();
            int peak = 0;
            for (String[] r : requests) together.add(CompletableFuture.supplyAsync(() -> reply(api, r)));
            while (!CompletableFuture.allOf(together.toArray(CompletableFuture[]::new)).isDone()) {
                peak = Math.max(peak, (int) api.counter("herd_busy_slots"));
                Thread.sleep(2);
            }
            for (int i = 0; i < requests.size(); i++) assertThat(together.get(i).get()).as("request %d, round %d", i, round).isEqualTo(alone.get(i));
            assertThat(peak).as("slots busy at once").isGreaterThan(1).isLessThanOrEqualTo(slots);
        }
        assertThat(api.counter("herd_busy_slots")).isZero();
    }

    @Test
    void requestsServedTogetherGiveExactlyTheirTextsAlone() throws Exception {
        sameTogetherAsAlone(three, 3);
        assertThat(three.get("/metrics").body()).contains("herd_requests_total{endpoint=\"/v1/completions\",status=\"200\"} " + 3 * 6)
                .contains("herd_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} " + 3 * 2);
    }

    static final String SLOW = "{\"prompt\":\"Once upon a time\",\"max_tokens\":25,\"temperature\":0}";

    @Test
    void pastTheSlotsRequestsQueueThenGet429() throws Exception {
        List<CompletableFuture<HttpResponse<String>>> running = new ArrayList<>();
        for (int i = 0; i < 2; i++) running.add(CompletableFuture.supplyAsync(() -> two.post("/v1/completions", SLOW)));
        await(() -> metric(two, "herd_busy_slots 2"));
        CompletableFuture<HttpResponse<String>> waiting = CompletableFuture.supplyAsync(() -> two.post("/v1/completions", SLOW));
        await(() -> metric(two, "herd_queue_depth 1"));
        HttpResponse<String> rejected = two.post("/v1/completions", SLOW);
        assertThat(rejected.statusCode()).isEqualTo(429);
        assertThat(TestApi.json(rejected.body()).at("/error/code").asText()).isEqualTo("queue_full");
        for (var r : running) assertThat(r.get().statusCode()).isEqualTo(200);
        assertThat(waiting.get().statusCode()).isEqualTo(200);
        await(() -> metric(two, "herd_busy_slots 0"));
    }

    @Test
    void aClientThatLeavesMidStreamFreesItsSlotWhileTheOtherGenerates() throws Exception {
        long cancelled = two.counter("herd_cancelled_total");
        CompletableFuture<HttpResponse<String>> running = CompletableFuture.supplyAsync(() -> two.post("/v1/completions",
                "{\"prompt\":\"Once upon a time\",\"max_tokens\":200,\"temperature\":0}")); // 8 s at 40 ms a token
        await(() -> metric(two, "herd_busy_slots 1"));
        try (Socket s = two.open("/v1/completions", "{\"prompt\":\"Once upon a time\",\"max_tokens\":200,\"stream\":true}")) {
            InputStream in = s.getInputStream();
            StringBuilder seen = new StringBuilder();
            while (!seen.toString().contains("data: ")) seen.append((char) in.read());
            assertThat(two.counter("herd_busy_slots")).isEqualTo(2);
        } // gone after the first token
        await(() -> two.counter("herd_cancelled_total") == cancelled + 1);
        await(() -> metric(two, "herd_busy_slots 1"));
        // with both slots taken and a queue of one, a third and a fourth request would get 429: the slot is free again
        List<CompletableFuture<HttpResponse<String>>> more = new ArrayList<>();
        for (int i = 0; i < 2; i++) more.add(CompletableFuture.supplyAsync(() -> two.post("/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":2}")));
        for (var r : more) assertThat(r.get().statusCode()).isEqualTo(200);
        assertThat(running).as("the first request still generates").isNotDone();
        assertThat(running.get().statusCode()).isEqualTo(200);
    }

    static boolean metric(TestApi api, String line) {
        return api.get("/metrics").body().lines().anyMatch(line::equals);
    }

    static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("condition not met within 60 s");
            Thread.sleep(10);
        }
    }
}
