package dev.herd.grammar;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * An independent check of the grammar's outputs: Jackson parses them strictly (one value, no duplicate keys), and a
 * small validator written from the JSON Schema spec, for the keywords Herd supports, checks the value.
 */
public final class SchemaCheck {
    public static final ObjectMapper STRICT = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    private SchemaCheck() {}

    public static JsonNode json(String text) {
        try {
            return STRICT.readTree(text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The ways the value breaks the schema; empty when it is valid. */
    public static List<String> errors(JsonNode schema, JsonNode value) {
        List<String> out = new ArrayList<>();
        check(schema, value, "$", out);
        return out;
    }

    private static void check(JsonNode s, JsonNode v, String at, List<String> out) {
        if (s.isBoolean()) {
            if (!s.asBoolean()) out.add(at + ": false schema");
            return;
        }
        if (s.has("const") && !s.get("const").equals(v)) out.add(at + ": not the const");
        if (s.has("anyOf")) {
            boolean any = false;
            for (JsonNode branch : s.get("anyOf")) any |= errors(branch, v).isEmpty();
            if (!any) out.add(at + ": matches no anyOf branch");
        }
        if (s.has("enum")) {
            boolean found = false;
            for (JsonNode e : s.get("enum")) found |= e.equals(v);
            if (!found) out.add(at + ": not in the enum");
        }
        if (s.has("type")) {
            JsonNode t = s.get("type");
            boolean ok = false;
            if (t.isArray()) for (JsonNode n : t) ok |= is(n.asText(), v);
            else ok = is(t.asText(), v);
            if (!ok) out.add(at + ": not of type " + t);
        }
        if (v.isObject()) {
            JsonNode props = s.path("properties");
            for (JsonNode r : s.path("required")) if (!v.has(r.asText())) out.add(at + ": misses " + r);
            for (var e : v.properties()) {
                if (props.has(e.getKey())) check(props.get(e.getKey()), e.getValue(), at + "." + e.getKey(), out);
                else if (s.has("additionalProperties")) check(s.get("additionalProperties"), e.getValue(), at + "." + e.getKey(), out);
            }
        }
        if (v.isArray()) {
            if (s.has("minItems") && v.size() < s.get("minItems").asInt()) out.add(at + ": too few items");
            if (s.has("maxItems") && v.size() > s.get("maxItems").asInt()) out.add(at + ": too many items");
            if (s.has("items")) for (int i = 0; i < v.size(); i++) check(s.get("items"), v.get(i), at + "[" + i + "]", out);
        }
    }

    private static boolean is(String type, JsonNode v) {
        return switch (type) {
            case "object" -> v.isObject();
            case "array" -> v.isArray();
            case "string" -> v.isTextual();
            case "number" -> v.isNumber();
            case "integer" -> v.isIntegralNumber();
            case "boolean" -> v.isBoolean();
            case "null" -> v.isNull();
            default -> false;
        };
    }
}
