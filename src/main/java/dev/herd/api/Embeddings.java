package dev.herd.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code /v1/embeddings}: a text's embedding is the mean of its tokens' final hidden states (after the output norm),
 * scaled to unit length, as llama.cpp's server computes one for a decoder model. Floats, or base64 of little-endian
 * float32 (the openai clients' default).
 */
final class Embeddings {
    /** Texts per request (together at most the context's length in tokens, {@link Prompts#inputs}). */
    static final int MAX_INPUTS = 64;

    private final Engine engine;
    private final ObjectMapper json;

    Embeddings(Engine engine, ObjectMapper json) {
        this.engine = engine;
        this.json = json;
    }

    int handle(Exchange ex, JsonNode body) throws IOException {
        if (body == null || !body.isObject()) throw ApiError.invalid(null, "the request body must be a JSON object");
        boolean base64 = switch (body.path("encoding_format").asText("float")) {
            case "float" -> false;
            case "base64" -> true;
            default -> throw ApiError.invalid("encoding_format", "'encoding_format' must be float or base64");
        };
        if (body.hasNonNull("dimensions")) throw ApiError.unsupported("dimensions");
        List<String> texts = texts(body.get("input"));
        List<int[]> inputs = engine.inputs(texts);
        List<float[]> vectors = engine.embed(inputs, new Cancellation());
        List<Map<String, Object>> data = new ArrayList<>();
        int tokens = 0;
        for (int i = 0; i < vectors.size(); i++) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("object", "embedding");
            d.put("index", i);
            d.put("embedding", base64 ? base64(vectors.get(i)) : vectors.get(i));
            data.add(d);
            tokens += inputs.get(i).length;
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("object", "list");
        out.put("data", data);
        out.put("model", engine.modelName());
        out.put("usage", Map.of("prompt_tokens", tokens, "total_tokens", tokens));
        Http.json(ex, json, 200, out);
        return 200;
    }

    /** A string, or an array of 1 to {@link #MAX_INPUTS} strings. */
    private static List<String> texts(JsonNode input) {
        String wrong = "'input' must be a string or an array of 1 to " + MAX_INPUTS + " strings";
        if (input != null && input.isTextual()) return List.of(input.asText());
        if (input == null || !input.isArray() || input.isEmpty() || input.size() > MAX_INPUTS) throw ApiError.invalid("input", wrong);
        List<String> out = new ArrayList<>();
        for (JsonNode t : input) {
            if (!t.isTextual()) throw ApiError.invalid("input", wrong);
            out.add(t.asText());
        }
        return out;
    }

    private static String base64(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        return Base64.getEncoder().encodeToString(b.array());
    }
}
