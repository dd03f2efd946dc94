package dev.herd.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.herd.grammar.Grammar;
import dev.herd.grammar.SchemaException;

/**
 * Reads OpenAI's {@code response_format}: {@code text} (no constraint), {@code json_object} (any JSON object) or
 * {@code json_schema} (a value of the schema; enforced whether {@code strict} is set or not). A schema Herd cannot
 * enforce is a 400 that names the keyword.
 */
final class ResponseFormats {
    static final String SCHEMA = "response_format.json_schema.schema";

    private ResponseFormats() {}

    /** The grammar the output must follow, or null for free text. */
    static Grammar read(JsonNode format) {
        if (format == null || format.isNull()) return null;
        if (!format.isObject()) throw ApiError.invalid("response_format", "'response_format' must be an object with a 'type'");
        return switch (format.path("type").asText("")) {
            case "text" -> null;
            case "json_object" -> Grammar.jsonObject();
            case "json_schema" -> schema(format.get("json_schema"));
            default -> throw ApiError.invalid("response_format.type", "'response_format.type' must be text, json_object or json_schema");
        };
    }

    private static Grammar schema(JsonNode spec) {
        if (spec == null || !spec.isObject()) throw ApiError.invalid("response_format.json_schema", "'response_format.json_schema' must be an object with 'name' and 'schema'");
        if (!spec.path("name").isTextual()) throw ApiError.invalid("response_format.json_schema.name", "'response_format.json_schema.name' must be a string");
        JsonNode strict = spec.get("strict");
        if (strict != null && !strict.isNull() && !strict.isBoolean()) throw ApiError.invalid("response_format.json_schema.strict", "'strict' must be true or false");
        JsonNode schema = spec.get("schema");
        if (schema == null || schema.isNull()) return Grammar.jsonObject(); // OpenAI: no schema, any object
        try {
            return Grammar.schema(schema);
        } catch (SchemaException e) {
            throw new ApiError(400, "invalid_request_error", SCHEMA, "unsupported_schema", "response_format: " + e.getMessage());
        }
    }
}
