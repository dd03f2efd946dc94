package dev.herd.api;

import dev.herd.engine.Logprob;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** OpenAI's two logprobs shapes, for a whole answer or a stream's chunk. */
final class Logprobs {
    private Logprobs() {}

    /** Chat: {@code {"content": [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]}}. */
    static Map<String, Object> chat(List<Logprob> entries) {
        List<Map<String, Object>> content = new ArrayList<>();
        for (Logprob e : entries) {
            Map<String, Object> m = entry(e);
            m.put("top_logprobs", e.top().stream().map(Logprobs::entry).toList());
            content.add(m);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("content", content);
        out.put("refusal", null);
        return out;
    }

    /**
     * Completions: parallel lists of tokens, their logprobs, maps of the best alternatives, and each token's offset in
     * the prompt and completion text (the first one's is {@code offset}: echo is off).
     */
    static Map<String, Object> text(List<Logprob> entries, int offset) {
        List<String> tokens = new ArrayList<>();
        List<Double> logprobs = new ArrayList<>();
        List<Map<String, Double>> top = new ArrayList<>();
        List<Integer> offsets = new ArrayList<>();
        for (Logprob e : entries) {
            String token = text(e.bytes());
            tokens.add(token);
            logprobs.add(e.logprob());
            Map<String, Double> best = new LinkedHashMap<>();
            for (Logprob t : e.top()) best.putIfAbsent(text(t.bytes()), t.logprob());
            top.add(best);
            offsets.add(offset);
            offset += token.length();
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("tokens", tokens);
        out.put("token_logprobs", logprobs);
        out.put("top_logprobs", top);
        out.put("text_offset", offsets);
        return out;
    }

    /** The characters of a text after these entries' tokens. */
    static int length(List<Logprob> entries) {
        return entries.stream().mapToInt(e -> text(e.bytes()).length()).sum();
    }

    private static Map<String, Object> entry(Logprob e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("token", text(e.bytes()));
        m.put("logprob", e.logprob());
        List<Integer> bytes = new ArrayList<>(e.bytes().length);
        for (byte b : e.bytes()) bytes.add(b & 0xff);
        m.put("bytes", bytes);
        return m;
    }

    /** A token's text alone: a piece of a character comes out as U+FFFD (its bytes are exact). */
    private static String text(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
