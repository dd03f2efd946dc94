package dev.herd.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herd.grammar.SchemaCheck;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Tool calling on /v1/chat/completions over stories15M (Llama 2 family: the Hermes {@code <tool_call>} form). */
class ApiToolsTest {
    // small: the tools' description goes into the prompt, and stories15M's context holds 256 tokens
    private static final String WEATHER = """
            {"type": "object", "additionalProperties": false, "required": ["city"], "properties": {"city": {"enum": ["Paris", "Rome"]}}}""";
    private static final String WEATHER_TOOL = "{\"type\":\"function\",\"function\":{\"name\":\"weather\",\"parameters\":" + WEATHER + "}}";
    private static final String TOOLS = "[" + WEATHER_TOOL + "]";
    static TestApi api;

    @BeforeAll
    static void start() {
        api = new TestApi("secret", 16, 0);
    }

    @AfterAll
    static void stop() {
        api.close();
    }

    private static String chat(String extra) {
        return "{\"messages\":[{\"role\":\"user\",\"content\":\"Rain?\"}],\"max_tokens\":100,\"tools\":" + TOOLS + extra + "}";
    }

    @Test
    void requiredToolChoiceAlwaysGivesAValidCall() {
        for (int seed = 1; seed <= 4; seed++) {
            JsonNode choice = api.ok("/v1/chat/completions", chat(",\"tool_choice\":\"required\",\"temperature\":0.9,\"seed\":" + seed)).at("/choices/0");
            assertThat(choice.get("finish_reason").asText()).as(choice.toString()).isEqualTo("tool_calls");
            assertThat(choice.at("/message/content").isNull()).isTrue();
            JsonNode call = choice.at("/message/tool_calls/0");
            assertThat(call.get("id").asText()).startsWith("call_");
            assertThat(call.get("type").asText()).isEqualTo("function");
            assertThat(call.at("/function/name").asText()).isEqualTo("weather");
            JsonNode args = SchemaCheck.json(call.at("/function/arguments").asText());
            assertThat(SchemaCheck.errors(TestApi.json(WEATHER), args)).isEmpty();
        }
    }

    /**
     * Parameters as LangChain4j and most clients write them, without additionalProperties: a forced call holds the
     * listed properties only (a small model let loose on free property names wrote keys of story text and ran out of
     * tokens before the object closed).
     */
    @Test
    void aForcedCallHoldsOnlyTheListedProperties() {
        String open = "{\"type\":\"object\",\"required\":[\"city\"],\"properties\":{\"city\":{\"type\":\"string\",\"enum\":[\"Paris\",\"Rome\"]}}}";
        String tools = "[{\"type\":\"function\",\"function\":{\"name\":\"weather\",\"parameters\":" + open + "}}]";
        for (int seed = 1; seed <= 8; seed++) {
            JsonNode choice = api.ok("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Rain?\"}],\"max_tokens\":100,"
                    + "\"tools\":" + tools + ",\"tool_choice\":\"required\",\"temperature\":1.0,\"seed\":" + seed + "}").at("/choices/0");
            assertThat(choice.get("finish_reason").asText()).as(choice.toString()).isEqualTo("tool_calls");
            JsonNode args = SchemaCheck.json(choice.at("/message/tool_calls/0/function/arguments").asText());
            List<String> keys = new ArrayList<>();
            args.fieldNames().forEachRemaining(keys::add);
            assertThat(keys).as(args.toString()).containsExactly("city");
        }
    }

    @Test
    void aNamedFunctionStreamsItsCallAsADelta() {
        String body = chat(",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"weather\"}},\"stream\":true,\"seed\":2");
        JsonNode call = null;
        String finish = null;
        for (JsonNode chunk : api.events("/v1/chat/completions", body)) {
            JsonNode choice = chunk.at("/choices/0");
            if (choice.at("/delta/tool_calls/0").isObject()) call = choice.at("/delta/tool_calls/0");
            if (choice.hasNonNull("finish_reason")) finish = choice.get("finish_reason").asText();
        }
        assertThat(finish).isEqualTo("tool_calls");
        assertThat(call.get("index").asInt()).isZero();
        assertThat(call.at("/function/name").asText()).isEqualTo("weather");
        assertThat(SchemaCheck.errors(TestApi.json(WEATHER), SchemaCheck.json(call.at("/function/arguments").asText()))).isEmpty();
    }

    @Test
    void aConversationWithACallAndItsResultIsAnswered() {
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"Rain?\"},"
                + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
                + "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"rain\"}],\"max_tokens\":8,\"temperature\":0,\"tool_choice\":\"auto\",\"tools\":[" + WEATHER_TOOL + "]}";
        JsonNode choice = api.ok("/v1/chat/completions", body).at("/choices/0");
        assertThat(choice.get("finish_reason").asText()).isIn("stop", "length", "tool_calls");
        assertThat(api.ok("/v1/chat/completions", body.replace("\"auto\"", "\"none\"")).at("/choices/0/message/content").isTextual()).isTrue();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            tools not a list      | "tools":{}                                                                                    | tools
            not a function        | "tools":[{"type":"retrieval"}]                                                                | tools[0]
            no name               | "tools":[{"type":"function","function":{}}]                                                   | tools[0].function.name
            bad name              | "tools":[{"type":"function","function":{"name":"a b"}}]                                       | tools[0].function.name
            same name twice       | "tools":[{"type":"function","function":{"name":"a"}},{"type":"function","function":{"name":"a"}}] | tools[1].function.name
            parameters not object | "tools":[{"type":"function","function":{"name":"a","parameters":{"type":"string"}}}]          | tools[0].function.parameters
            unsupported keyword   | "tools":[{"type":"function","function":{"name":"a","parameters":{"type":"object","properties":{"x":{"pattern":"y"}}}}}] | tools[0].function.parameters
            unknown named tool    | "tools":[{"type":"function","function":{"name":"a"}}],"tool_choice":{"type":"function","function":{"name":"b"}}     | tool_choice.function.name
            bad tool_choice       | "tools":[{"type":"function","function":{"name":"a"}}],"tool_choice":"always"                   | tool_choice
            choice without tools  | "tool_choice":"required"                                                                      | tool_choice
            """)
    void malformedToolsAre400NamingTheField(String name, String extra, String param) {
        HttpResponse<String> r = api.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]," + extra + "}");
        assertThat(r.statusCode()).isEqualTo(400);
        JsonNode error = TestApi.json(r.body()).get("error");
        assertThat(error.get("param").asText()).isEqualTo(param);
        assertThat(error.get("message").asText()).isNotBlank();
    }

    @Test
    void malformedCallsInMessagesAre400() {
        String args = "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"type\":\"function\",\"function\":{\"name\":\"a\",\"arguments\":\"{oops\"}}]}]}";
        HttpResponse<String> r = api.post("/v1/chat/completions", args);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(TestApi.json(r.body()).at("/error/param").asText()).isEqualTo("messages[0].tool_calls[0].function.arguments");
        r = api.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"tool_calls\":[{\"function\":{\"name\":\"a\",\"arguments\":\"{}\"}}]}]}");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(TestApi.json(r.body()).at("/error/param").asText()).isEqualTo("messages[0].tool_calls");
    }
}
