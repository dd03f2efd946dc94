package dev.herd.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code herd api} over the stories15M fixture, through plain HTTP. */
class ApiServerTest {
    static TestApi api;

    @BeforeAll
    static void start() {
        api = new TestApi("secret", 16, 0);
    }

    @AfterAll
    static void stop() {
        api.close();
    }

    static String chat(String content, String extra) {
        return "{\"model\":\"any\",\"messages\":[{\"role\":\"user\",\"content\":\"" + content + "\"}]" + extra + "}";
    }

    @Test
    void chatCompletion() {
        JsonNode r = api.ok("/v1/chat/completions", chat("Tell me a story", ",\"max_tokens\":12,\"temperature\":0"));
        assertThat(r.get("id").asText()).startsWith("chatcmpl-");
        assertThat(r.get("object").asText()).isEqualTo("chat.completion");
        assertThat(r.get("model").asText()).isEqualTo("stories15M-q8_0.gguf");
        assertThat(r.get("created").asLong()).isPositive();
        JsonNode choice = r.get("choices").get(0);
        assertThat(choice.get("index").asInt()).isZero();
        assertThat(choice.at("/message/role").asText()).isEqualTo("assistant");
        assertThat(choice.at("/message/content").asText()).isNotBlank();
        assertThat(choice.get("finish_reason").asText()).isIn("stop", "length");
        JsonNode usage = r.get("usage");
        assertThat(usage.get("prompt_tokens").asInt()).isPositive();
        assertThat(usage.get("completion_tokens").asInt()).isBetween(1, 12);
        assertThat(usage.get("total_tokens").asInt()).isEqualTo(usage.get("prompt_tokens").asInt() + usage.get("completion_tokens").asInt());
        JsonNode timings = r.get("timings");
        assertThat(timings.get("prompt_ms").asDouble()).isPositive();
        assertThat(timings.get("time_to_first_token_ms").asDouble()).as("time to first token contains the prompt's evaluation")
                .isGreaterThan(timings.get("prompt_ms").asDouble());
        assertThat(api.get("/metrics").body()).contains("herd_time_to_first_token_ms ");
    }

    @Test
    void streamedChatEqualsTheWholeReply() {
        String body = chat("Once upon a time", ",\"max_tokens\":20,\"temperature\":0");
        String whole = api.ok("/v1/chat/completions", body).at("/choices/0/message/content").asText();
        List<JsonNode> events = api.events("/v1/chat/completions",
                body.replace("}]", "}],\"stream\":true,\"stream_options\":{\"include_usage\":true}"));
        assertThat(events.getFirst().at("/choices/0/delta/role").asText()).isEqualTo("assistant");
        assertThat(events).allSatisfy(e -> {
            if (e.isObject()) assertThat(e.get("object").asText()).isEqualTo("chat.completion.chunk");
        });
        assertThat(content(events)).isEqualTo(whole);
        assertThat(events.getLast().asText()).isEqualTo("[DONE]");
        JsonNode last = events.get(events.size() - 2), finish = events.get(events.size() - 3);
        assertThat(last.get("choices")).isEmpty();
        assertThat(last.at("/usage/completion_tokens").asInt()).isEqualTo(20);
        assertThat(finish.at("/choices/0/finish_reason").asText()).isEqualTo("length");
    }

    @Test
    void textCompletionStopsAtMaxTokens() {
        JsonNode r = api.ok("/v1/completions", "{\"prompt\":\"Once upon a time\",\"max_tokens\":8,\"temperature\":0}");
        assertThat(r.get("object").asText()).isEqualTo("text_completion");
        assertThat(r.at("/choices/0/text").asText()).isNotEmpty();
        assertThat(r.at("/choices/0/finish_reason").asText()).isEqualTo("length");
        assertThat(r.at("/usage/completion_tokens").asInt()).isEqualTo(8);
        List<JsonNode> events = api.events("/v1/completions", "{\"prompt\":\"Once upon a time\",\"max_tokens\":8,\"temperature\":0,\"stream\":true}");
        assertThat(events.stream().filter(JsonNode::isObject).map(e -> e.at("/choices/0/text").asText()).collect(Collectors.joining()))
                .isEqualTo(r.at("/choices/0/text").asText());
    }

    @Test
    void stopStringCutsTheTextAndNeverLeaksInTheStream() {
        String base = "{\"prompt\":\"Once upon a time\",\"max_tokens\":40,\"temperature\":0";
        String full = api.ok("/v1/completions", base + "}").at("/choices/0/text").asText();
        int at = full.indexOf(' ', 12); // a stop string that spans tokens, after some text
        String stop = full.substring(at, at + 6);
        String expected = full.substring(0, full.indexOf(stop));
        String withStop = base + ",\"stop\":[" + TestApi.JSON.valueToTree(stop) + ",\"@@@\"]";
        JsonNode r = api.ok("/v1/completions", withStop + "}");
        assertThat(r.at("/choices/0/text").asText()).isEqualTo(expected);
        assertThat(r.at("/choices/0/finish_reason").asText()).isEqualTo("stop");
        List<JsonNode> events = api.events("/v1/completions", withStop + ",\"stream\":true}");
        String streamed = events.stream().filter(JsonNode::isObject).map(e -> e.at("/choices/0/text").asText()).collect(Collectors.joining());
        assertThat(streamed).isEqualTo(expected);
    }

    @Test
    void sameSeedSameText() {
        String body = chat("Tell me a story", ",\"max_tokens\":30,\"temperature\":1,\"seed\":42");
        String a = api.ok("/v1/chat/completions", body).at("/choices/0/message/content").asText();
        String b = api.ok("/v1/chat/completions", body).at("/choices/0/message/content").asText();
        String c = api.ok("/v1/chat/completions", body.replace("42", "7")).at("/choices/0/message/content").asText();
        assertThat(b).isEqualTo(a);
        assertThat(c).isNotEqualTo(a);
    }

    @Test
    void contentPartsAndSecondTurnReuseThePrefix() {
        JsonNode first = api.ok("/v1/chat/completions",
                "{\"messages\":[{\"role\":\"system\",\"content\":\"You tell stories.\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"A story about a cat\"}]}],\"max_tokens\":10}");
        String reply = first.at("/choices/0/message/content").asText();
        String next = "{\"messages\":[{\"role\":\"system\",\"content\":\"You tell stories.\"},{\"role\":\"user\",\"content\":\"A story about a cat\"},"
                + "{\"role\":\"assistant\",\"content\":" + TestApi.JSON.valueToTree(reply) + "},{\"role\":\"user\",\"content\":\"And then?\"}],\"max_tokens\":10}";
        JsonNode second = api.ok("/v1/chat/completions", next);
        int cached = second.at("/timings/cached_n").asInt();
        assertThat(cached).isGreaterThanOrEqualTo(first.at("/usage/prompt_tokens").asInt() - 1);
        assertThat(second.at("/usage/prompt_tokens_details/cached_tokens").asInt()).isEqualTo(cached);
        assertThat(second.at("/timings/prompt_n").asInt()).isEqualTo(second.at("/usage/prompt_tokens").asInt() - cached);
        assertThat(api.get("/metrics").body()).containsPattern("herd_reused_prompt_tokens_total [1-9]");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            malformed JSON       | {"messages":                                                        |
            not an object        | [1,2]                                                                |
            messages not a list  | {"messages":"hi"}                                                    | messages
            no messages          | {"messages":[]}                                                      | messages
            bad role             | {"messages":[{"role":"robot","content":"hi"}]}                        | messages[0].role
            content a number     | {"messages":[{"role":"user","content":5}]}                            | messages[0].content
            temperature a string | {"messages":[{"role":"user","content":"hi"}],"temperature":"hot"}     | temperature
            max_tokens fraction  | {"messages":[{"role":"user","content":"hi"}],"max_tokens":1.5}        | max_tokens
            two choices          | {"messages":[{"role":"user","content":"hi"}],"n":2}                   | n
            tools                | {"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function"}]} | tools[0].function.name
            image part           | {"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]} | messages[0].content[0]
            stop not strings     | {"messages":[{"role":"user","content":"hi"}],"stop":[1]}              | stop
            """)
    void badRequestsAre400NamingTheField(String name, String body, String param) {
        HttpResponse<String> r = api.post("/v1/chat/completions", body);
        assertThat(r.statusCode()).isEqualTo(400);
        JsonNode error = TestApi.json(r.body()).get("error");
        assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
        assertThat(error.get("message").asText()).isNotBlank();
        if (param != null) assertThat(error.get("param").asText()).isEqualTo(param);
    }

    @Test
    void promptLongerThanTheContextIs400() {
        HttpResponse<String> r = api.post("/v1/chat/completions", chat("hello ".repeat(300), ""));
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(TestApi.json(r.body()).at("/error/code").asText()).isEqualTo("context_length_exceeded");
        assertThat(api.ok("/v1/chat/completions", chat("hello", ",\"max_tokens\":2")).at("/choices/0/message/content").asText()).isNotNull();
    }

    @Test
    void apiKeyIsRequiredExceptForHealth() throws Exception {
        try (HttpClient plain = HttpClient.newHttpClient()) {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(api.url("/v1/chat/completions")))
                    .POST(HttpRequest.BodyPublishers.ofString(chat("hi", "")));
            HttpResponse<String> none = plain.send(b.build(), HttpResponse.BodyHandlers.ofString());
            HttpResponse<String> wrong = plain.send(b.header("Authorization", "Bearer nope").build(), HttpResponse.BodyHandlers.ofString());
            HttpResponse<String> health = plain.send(HttpRequest.newBuilder(URI.create(api.url("/health"))).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(none.statusCode()).isEqualTo(401);
            assertThat(wrong.statusCode()).isEqualTo(401);
            assertThat(TestApi.json(none.body()).at("/error/code").asText()).isEqualTo("invalid_api_key");
            assertThat(health.statusCode()).isEqualTo(200);
        }
    }

    @Test
    void modelsHealthPageAndUnknownRoutes() {
        assertThat(TestApi.json(api.get("/v1/models").body()).at("/data/0/id").asText()).isEqualTo("stories15M-q8_0.gguf");
        assertThat(TestApi.json(api.get("/health").body()).get("status").asText()).isEqualTo("ok");
        assertThat(api.get("/").body()).contains("<title>Herd chat</title>");
        assertThat(api.get("/app.js").body()).contains("/v1/chat/completions");
        assertThat(api.get("/nope").statusCode()).isEqualTo(404);
        assertThat(api.get("/v1/chat/completions").statusCode()).isEqualTo(405);
    }

    @Test
    void metricsCountRequestsAndTokens() {
        api.ok("/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":3}");
        api.post("/v1/completions", "{}");
        String m = api.get("/metrics").body();
        assertThat(m).containsPattern("herd_requests_total\\{endpoint=\"/v1/completions\",status=\"200\"} [1-9]")
                .containsPattern("herd_requests_total\\{endpoint=\"/v1/completions\",status=\"400\"} [1-9]")
                .containsPattern("herd_generated_tokens_total [1-9]")
                .containsPattern("herd_decode_tokens_per_second [0-9.]+")
                .contains("herd_prompt_tokens_per_second", "herd_queue_depth 0", "herd_busy 0", "# TYPE herd_requests_total counter")
                .doesNotContain("herd_sync_ms_per_token"); // one node
    }

    private static String content(List<JsonNode> events) {
        return events.stream().filter(JsonNode::isObject).map(e -> e.at("/choices/0/delta/content").asText("")).collect(Collectors.joining());
    }
}
