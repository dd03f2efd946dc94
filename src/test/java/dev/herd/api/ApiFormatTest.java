package dev.herd.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herd.grammar.SchemaCheck;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code response_format} on /v1/chat/completions: stories15M's replies, constrained while sampling, parse and validate. */
class ApiFormatTest {
    private static final String SCHEMA = """
            {"type": "object", "additionalProperties": false, "required": ["mood", "age", "friends", "brave"],
             "properties": {"mood": {"enum": ["happy", "sad", "sleepy"]}, "age": {"type": "integer"},
               "friends": {"type": "array", "items": {"enum": ["Tim", "Lily", "Sue"]}, "maxItems": 3},
               "brave": {"type": "boolean"}}}""";
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
        return "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me about Lily as JSON\"}],\"max_tokens\":200" + extra + "}";
    }

    @Test
    void jsonSchemaRepliesParseAndValidate() {
        JsonNode schema = TestApi.json(SCHEMA);
        for (int seed = 1; seed <= 6; seed++) {
            String format = ",\"seed\":" + seed + ",\"temperature\":0.9,\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"kid\",\"strict\":true,\"schema\":" + SCHEMA + "}}";
            JsonNode choice = api.ok("/v1/chat/completions", chat(format)).at("/choices/0");
            String content = choice.at("/message/content").asText();
            assertThat(choice.get("finish_reason").asText()).as(content).isEqualTo("stop");
            assertThat(SchemaCheck.errors(schema, SchemaCheck.json(content))).as(content).isEmpty();
        }
    }

    @Test
    void streamedJsonObjectParses() {
        String body = chat(",\"stream\":true,\"seed\":3,\"response_format\":{\"type\":\"json_object\"}");
        StringBuilder content = new StringBuilder();
        String finish = null;
        for (JsonNode chunk : api.events("/v1/chat/completions", body)) {
            JsonNode choice = chunk.at("/choices/0");
            content.append(choice.at("/delta/content").asText(""));
            if (choice.hasNonNull("finish_reason")) finish = choice.get("finish_reason").asText();
        }
        if ("stop".equals(finish)) assertThat(SchemaCheck.json(content.toString()).isObject()).as(content.toString()).isTrue();
        else assertThat(content.toString().strip()).as("cut by max_tokens, but a valid beginning").startsWith("{");
    }

    @Test
    void anUnsupportedKeywordIs400NamingIt() {
        String format = ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"format\":\"date-time\"}}}}}";
        HttpResponse<String> r = api.post("/v1/chat/completions", chat(format));
        assertThat(r.statusCode()).isEqualTo(400);
        JsonNode error = TestApi.json(r.body()).get("error");
        assertThat(error.get("param").asText()).isEqualTo("response_format.json_schema.schema");
        assertThat(error.get("code").asText()).isEqualTo("unsupported_schema");
        assertThat(error.get("message").asText()).isEqualTo("response_format: 'format' is not supported (at '.properties.a')");
    }

    @Test
    void anUnknownFormatTypeIs400() {
        HttpResponse<String> r = api.post("/v1/chat/completions", chat(",\"response_format\":{\"type\":\"yaml\"}"));
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(TestApi.json(r.body()).at("/error/param").asText()).isEqualTo("response_format.type");
    }
}
