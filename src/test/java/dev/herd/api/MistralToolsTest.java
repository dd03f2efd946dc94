package dev.herd.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herd.engine.Model;
import dev.herd.grammar.SchemaCheck;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Mistral's tool form end to end, on stories15M with a Mistral v3 vocabulary ({@link MistralVocab}): the prompt holds
 * the control tokens at their ids, a forced call's prompt ends in [TOOL_CALLS] and its reply is the grammar's array.
 */
class MistralToolsTest {
    private static final int INST = 3, END_INST = 4, TOOL_CALLS = 5, AVAILABLE = 6, END_AVAILABLE = 7, RESULTS = 8, END_RESULTS = 9, EOS = 2;
    private static final String WEATHER = """
            {"type": "object", "additionalProperties": false, "required": ["city"], "properties": {"city": {"enum": ["Paris", "Rome"]}}}""";
    private static final String TOOLS = "[{\"type\":\"function\",\"function\":{\"name\":\"weather\",\"parameters\":" + WEATHER + "}}]";
    private static Model model;
    private static Prompts prompts;
    private static TestApi api;

    @BeforeAll
    static void start() {
        model = Model.open(TestApi.FIXTURE, MistralVocab.path(), 0, 1);
        prompts = new Prompts(model);
        api = new TestApi(null, 4, 0, () -> {
            Model m = Model.open(TestApi.FIXTURE, MistralVocab.path(), 0, 1);
            return new Backend(m, m::close);
        });
    }

    @AfterAll
    static void stop() {
        api.close();
        model.close();
    }

    private static int[] tokens(String body) {
        return prompts.tokens(Requests.chat(TestApi.json(body), prompts.toolFormat()));
    }

    private static int[] controls(int[] ids) {
        return Arrays.stream(ids).filter(id -> id >= EOS && id <= END_RESULTS).toArray();
    }

    @Test
    void aForcedCallsPromptOffersTheToolsAndEndsInToolCalls() {
        assertThat(prompts.toolFormat().form).isEqualTo(ToolFormat.Form.MISTRAL);
        int[] ids = tokens("{\"messages\":[{\"role\":\"user\",\"content\":\"Rain?\"}],\"tools\":" + TOOLS + ",\"tool_choice\":\"required\"}");
        assertThat(controls(ids)).containsExactly(AVAILABLE, END_AVAILABLE, INST, END_INST, TOOL_CALLS);
        assertThat(ids[ids.length - 1]).isEqualTo(TOOL_CALLS);
        int[] auto = tokens("{\"messages\":[{\"role\":\"user\",\"content\":\"Rain?\"}],\"tools\":" + TOOLS + "}");
        assertThat(controls(auto)).as("auto: the model chooses").containsExactly(AVAILABLE, END_AVAILABLE, INST, END_INST);
        String offer = model.tokenizer.decode(IntStream.range(indexOf(ids, AVAILABLE) + 1, indexOf(ids, END_AVAILABLE)).map(i -> ids[i]).toArray());
        assertThat(TestApi.json(offer).at("/0/function/name").asText()).isEqualTo("weather");
    }

    @Test
    void aCallAndItsResultAreWrittenWithTheirTokens() {
        int[] ids = tokens("{\"messages\":[{\"role\":\"user\",\"content\":\"Rain?\"},"
                + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
                + "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"rain\"}],\"tools\":" + TOOLS + "}");
        assertThat(controls(ids)).containsExactly(AVAILABLE, END_AVAILABLE, INST, END_INST, TOOL_CALLS, EOS, RESULTS, END_RESULTS);
        String result = model.tokenizer.decode(IntStream.range(indexOf(ids, RESULTS) + 1, indexOf(ids, END_RESULTS)).map(i -> ids[i]).toArray());
        assertThat(TestApi.json(result).get("content").asText()).isEqualTo("rain");
        String call = model.tokenizer.decode(IntStream.range(indexOf(ids, TOOL_CALLS) + 1, indexOf(ids, EOS)).map(i -> ids[i]).toArray());
        assertThat(TestApi.json(call).at("/0/arguments/city").asText()).isEqualTo("Paris");
    }

    @Test
    void aForcedCallIsAValidCall() {
        for (int seed = 1; seed <= 3; seed++) {
            JsonNode choice = api.ok("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Rain?\"}],\"max_tokens\":60,\"tools\":" + TOOLS
                    + ",\"tool_choice\":\"required\",\"temperature\":0.9,\"seed\":" + seed + "}").at("/choices/0");
            assertThat(choice.get("finish_reason").asText()).as(choice.toString()).isEqualTo("tool_calls");
            JsonNode call = choice.at("/message/tool_calls/0");
            assertThat(call.at("/function/name").asText()).isEqualTo("weather");
            assertThat(SchemaCheck.errors(TestApi.json(WEATHER), SchemaCheck.json(call.at("/function/arguments").asText()))).isEmpty();
        }
    }

    private static int indexOf(int[] ids, int id) {
        return IntStream.range(0, ids.length).filter(i -> ids[i] == id).findFirst().orElseThrow();
    }
}
