package dev.herd.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herd.engine.Model;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** logprobs on both completion endpoints and /v1/embeddings, against the committed stories15M fixture. */
class ApiLogprobsTest {
    static TestApi api;

    @BeforeAll
    static void start() {
        api = new TestApi(null, 4, 0);
    }

    @AfterAll
    static void stop() {
        api.close();
    }

    /**
     * Greedy text completion with logprobs: each token's logprob and its 3 best alternatives are the log-softmax, computed
     * here, of the logits of a separate run of the model over the same steps (the prompt in one pass, then a token per pass).
     */
    @Test
    void completionLogprobsAreTheModelsLogSoftmax() {
        String prompt = "Once upon a time";
        JsonNode r = api.ok("/v1/completions", "{\"prompt\":\"" + prompt + "\",\"max_tokens\":8,\"temperature\":0,\"seed\":1,\"logprobs\":3}");
        JsonNode lp = r.at("/choices/0/logprobs");
        assertThat(lp.get("tokens")).hasSize(8);
        try (Model m = Model.open(TestApi.FIXTURE, null, 0, 1)) {
            int[] ids = m.encodePrompt(prompt);
            int vocab = m.llama.vocab(), offset = prompt.length();
            float[] logits = m.llama.forward(ids, 0, true);
            StringBuilder text = new StringBuilder();
            for (int i = 0; i < 8; i++) {
                double[] expected = logSoftmax(logits, vocab);
                Integer[] order = IntStream.range(0, vocab).boxed().sorted((a, b) -> Double.compare(expected[b], expected[a])).toArray(Integer[]::new);
                int next = order[0];
                String token = new String(m.tokenizer.bytes(next), StandardCharsets.UTF_8);
                assertThat(lp.at("/tokens/" + i).asText()).isEqualTo(token);
                assertThat(lp.at("/token_logprobs/" + i).asDouble()).as("token %d", i).isCloseTo(expected[next], within(1e-9));
                assertThat(lp.at("/text_offset/" + i).asInt()).isEqualTo(offset);
                JsonNode top = lp.at("/top_logprobs/" + i);
                assertThat(top.size()).isEqualTo(3);
                for (int k = 0; k < 3; k++) {
                    String alternative = new String(m.tokenizer.bytes(order[k]), StandardCharsets.UTF_8);
                    assertThat(top.get(alternative).asDouble()).as("token %d, alternative %d", i, k).isCloseTo(expected[order[k]], within(1e-9));
                }
                offset += token.length();
                text.append(token);
                logits = m.llama.forward(next, ids.length + i);
            }
            assertThat(r.at("/choices/0/text").asText()).isEqualTo(text.toString());
        }
    }

    private static double[] logSoftmax(float[] logits, int vocab) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int i = 0; i < vocab; i++) max = Math.max(max, logits[i]);
        for (int i = 0; i < vocab; i++) sum += Math.exp(logits[i] - max);
        double[] out = new double[vocab];
        for (int i = 0; i < vocab; i++) out[i] = logits[i] - max - Math.log(sum);
        return out;
    }

    @Test
    void chatLogprobsWholeAndStreamedAgree() {
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story\"}],\"max_tokens\":10,\"temperature\":0,\"seed\":3,"
                + "\"logprobs\":true,\"top_logprobs\":2";
        JsonNode whole = api.ok("/v1/chat/completions", body + "}");
        JsonNode content = whole.at("/choices/0/logprobs/content");
        assertThat(content).hasSize(whole.at("/usage/completion_tokens").asInt());
        StringBuilder joined = new StringBuilder();
        for (JsonNode e : content) {
            joined.append(e.get("token").asText());
            assertThat(e.get("top_logprobs")).hasSize(2);
            assertThat(e.at("/top_logprobs/0/logprob").asDouble()).isGreaterThanOrEqualTo(e.at("/top_logprobs/1/logprob").asDouble());
            assertThat(e.at("/top_logprobs/0/token").asText()).as("greedy: the best token").isEqualTo(e.get("token").asText());
            assertThat(e.get("logprob").asDouble()).isNegative();
            byte[] bytes = new byte[e.get("bytes").size()];
            for (int i = 0; i < bytes.length; i++) bytes[i] = (byte) e.get("bytes").get(i).asInt();
            assertThat(new String(bytes, StandardCharsets.UTF_8)).isEqualTo(e.get("token").asText());
        }
        assertThat(joined.toString().strip()).isEqualTo(whole.at("/choices/0/message/content").asText().strip());

        List<JsonNode> streamed = new ArrayList<>();
        for (JsonNode event : api.events("/v1/chat/completions", body + ",\"stream\":true}")) {
            JsonNode chunk = event.at("/choices/0/logprobs/content");
            if (chunk.isArray()) chunk.forEach(streamed::add);
        }
        assertThat(streamed).isEqualTo(toList(content));
    }

    private static List<JsonNode> toList(JsonNode array) {
        List<JsonNode> out = new ArrayList<>();
        array.forEach(out::add);
        return out;
    }

    @Test
    void withoutLogprobsTheFieldIsNull() {
        JsonNode r = api.ok("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":2}");
        assertThat(r.at("/choices/0/logprobs").isNull()).isTrue();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            /v1/chat/completions | {"messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":21}  | top_logprobs
            /v1/chat/completions | {"messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":-1}  | top_logprobs
            /v1/chat/completions | {"messages":[{"role":"user","content":"hi"}],"top_logprobs":2}                   | top_logprobs
            /v1/chat/completions | {"messages":[{"role":"user","content":"hi"}],"logprobs":"yes"}                  | logprobs
            /v1/completions      | {"prompt":"hi","logprobs":6}                                                    | logprobs
            /v1/completions      | {"prompt":"hi","logprobs":-1}                                                   | logprobs
            /v1/completions      | {"prompt":"hi","logprobs":true}                                                 | logprobs
            /v1/embeddings       | {"input":[]}                                                                    | input
            /v1/embeddings       | {"input":[1,2,3]}                                                               | input
            /v1/embeddings       | {}                                                                              | input
            /v1/embeddings       | {"input":"hi","encoding_format":"int8"}                                         | encoding_format
            /v1/embeddings       | {"input":"hi","dimensions":8}                                                   | dimensions
            /v1/embeddings       | {"input":["hi",""]}                                                             | input[1]
            """)
    void badValuesAre400NamingTheField(String path, String body, String param) {
        HttpResponse<String> r = api.post(path, body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        JsonNode error = TestApi.json(r.body()).get("error");
        assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
        assertThat(error.get("param").asText()).isEqualTo(param);
    }

    @Test
    void tooManyOrTooLongInputsAre400AndTheyHoldAtMostAContextTogether() {
        String many = "{\"input\":[" + String.join(",", Collections.nCopies(Embeddings.MAX_INPUTS + 1, "\"a\"")) + "]}";
        assertThat(api.post("/v1/embeddings", many).statusCode()).isEqualTo(400);
        HttpResponse<String> r = api.post("/v1/embeddings", "{\"input\":\"" + "hello ".repeat(300) + "\"}");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(TestApi.json(r.body()).at("/error/code").asText()).isEqualTo("context_length_exceeded");
        // stories15M's context is 256 tokens: 64 texts of 6 tokens (BOS and 5 words) are each short, together too long
        String text = "\"" + "hello ".repeat(5).strip() + "\"";
        HttpResponse<String> together = api.post("/v1/embeddings", "{\"input\":[" + String.join(",", Collections.nCopies(64, text)) + "]}");
        assertThat(together.statusCode()).isEqualTo(400);
        assertThat(TestApi.json(together.body()).at("/error/code").asText()).isEqualTo("context_length_exceeded");
        assertThat(TestApi.json(together.body()).at("/error/message").asText()).contains("384 tokens");
        assertThat(api.ok("/v1/embeddings", "{\"input\":[" + String.join(",", Collections.nCopies(40, text)) + "]}").get("data")).hasSize(40);
    }

    @Test
    void embeddingsAreUnitVectorsDeterministicAndDifferent() {
        JsonNode r = api.ok("/v1/embeddings", "{\"model\":\"x\",\"input\":[\"The cat sat on the mat.\",\"A rocket flew to the moon.\"]}");
        assertThat(r.get("object").asText()).isEqualTo("list");
        assertThat(r.get("data")).hasSize(2);
        float[] a = floats(r.at("/data/0/embedding")), b = floats(r.at("/data/1/embedding"));
        assertThat(r.at("/data/1/index").asInt()).isEqualTo(1);
        assertThat(a).hasSize(288); // stories15M's dim
        assertThat(norm(a)).isCloseTo(1, within(1e-5));
        assertThat(norm(b)).isCloseTo(1, within(1e-5));
        assertThat(a).isNotEqualTo(b);
        assertThat(r.at("/usage/prompt_tokens").asInt()).isPositive().isEqualTo(r.at("/usage/total_tokens").asInt());

        JsonNode again = api.ok("/v1/embeddings", "{\"input\":\"The cat sat on the mat.\",\"encoding_format\":\"base64\"}");
        ByteBuffer bytes = ByteBuffer.wrap(Base64.getDecoder().decode(again.at("/data/0/embedding").asText())).order(ByteOrder.LITTLE_ENDIAN);
        float[] decoded = new float[bytes.remaining() / 4];
        bytes.asFloatBuffer().get(decoded);
        assertThat(decoded).containsExactly(a);
    }

    /** An embedding overwrites the cache's first positions: the next chat of the same client evaluates its whole prompt. */
    @Test
    void anEmbeddingBetweenTwoChatsLeavesNothingStaleInTheCache() {
        String chat = "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story about a cat\"}],\"max_tokens\":8,\"temperature\":0}";
        JsonNode first = api.ok("/v1/chat/completions", chat);
        JsonNode reused = api.ok("/v1/chat/completions", chat);
        assertThat(reused.at("/usage/prompt_tokens_details/cached_tokens").asInt()).as("the same client reuses its cache").isPositive();
        api.ok("/v1/embeddings", "{\"input\":\"A rocket flew to the moon and back again.\"}");
        JsonNode after = api.ok("/v1/chat/completions", chat);
        assertThat(after.at("/usage/prompt_tokens_details/cached_tokens").asInt()).isZero();
        assertThat(after.at("/choices/0/message/content").asText()).isEqualTo(first.at("/choices/0/message/content").asText());
    }

    private static float[] floats(JsonNode array) {
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) array.get(i).asDouble();
        return out;
    }

    private static double norm(float[] v) {
        return Math.sqrt(Arrays.stream(toDoubles(v)).map(x -> x * x).sum());
    }

    private static double[] toDoubles(float[] v) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i];
        return out;
    }
}
