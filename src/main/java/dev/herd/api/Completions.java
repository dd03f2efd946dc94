package dev.herd.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herd.engine.Logprob;

import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** {@code /v1/chat/completions} and {@code /v1/completions}: the same generation, two response shapes, whole or streamed. */
final class Completions {
    /** A chat stream's first delta. */
    private static final Map<String, String> ROLE = Map.of("role", "assistant", "content", "");

    private final Engine engine;
    private final ObjectMapper json;

    Completions(Engine engine, ObjectMapper json) {
        this.engine = engine;
        this.json = json;
    }

    /**
     * Answers the request; returns the HTTP status sent. A client that goes away cancels its request: nothing more is
     * sent, and the status is the 200 that the stream or {@link ClientWatch} had committed.
     */
    int handle(Exchange ex, boolean chat, JsonNode body) throws IOException {
        Request req = chat ? Requests.chat(body, engine.toolFormat()) : Requests.text(body);
        Shape shape = new Shape(chat, (chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", ""),
                System.currentTimeMillis() / 1000, engine.modelName(), req.logprobs() >= 0, chat ? 0 : req.prompt().length());
        Cancellation cancel = new Cancellation();
        String client = client(ex);
        try {
            return req.stream() ? stream(ex, chat, req, client, shape, cancel) : whole(ex, req, client, shape, cancel);
        } catch (Cancellation.Cancelled e) {
            return 200;
        }
    }

    /** Who may reuse the cache a request leaves: the same address with the same credentials. */
    private static String client(Exchange ex) {
        return ex.getRemoteAddress().getAddress().getHostAddress() + " " + ex.getRequestHeaders().getFirst("Authorization");
    }

    private int whole(Exchange ex, Request req, String client, Shape shape, Cancellation cancel) throws IOException {
        ClientWatch watch = ClientWatch.start(ex, cancel);
        Outcome o;
        OutputStream committed;
        try {
            o = engine.run(req, client, piece -> {}, cancel);
        } catch (RuntimeException e) {
            throw watch.stop() != null && !cancel.cancelled() ? new Http.Abort(e) : e;
        } finally {
            committed = watch.stop();
        }
        if (cancel.cancelled()) return 200; // the client has gone: nobody to answer
        byte[] answer = json.writeValueAsBytes(shape.whole(o, calls(req, o)));
        if (committed == null) {
            Http.send(ex, 200, "application/json", answer);
        } else {
            try (committed) { // after the watch's spaces
                committed.write(answer);
            }
        }
        return 200;
    }

    private int stream(Exchange ex, boolean chat, Request req, String client, Shape shape, Cancellation cancel) {
        Sse sse = new Sse(ex, json, cancel);
        int[] offset = {shape.promptChars()}; // of the next token, for text completions' logprobs
        try {
            boolean held = req.tools() != null; // a reply that may be a call is sent once whole
            Outcome o = engine.run(req, client, piece -> {
                if (held) return;
                if (!sse.opened() && chat) sse.send(shape.chunk(ROLE, null, null, 0));
                sse.send(shape.chunk(piece.text(), null, piece.logprobs(), offset[0]));
                offset[0] += Logprobs.length(piece.logprobs());
            }, cancel);
            if (!sse.opened() && chat) sse.send(shape.chunk(ROLE, null, null, 0));
            List<ToolFormat.Call> calls = calls(req, o);
            if (!calls.isEmpty()) sse.send(shape.chunk(Map.of("tool_calls", Shape.toolCalls(calls, true)), null, null, 0));
            else if (held) sse.send(shape.chunk(o.text(), null, o.logprobs(), shape.promptChars()));
            sse.send(shape.chunk(chat ? Map.of() : "", calls.isEmpty() ? o.finish() : "tool_calls", null, 0));
            if (req.includeUsage()) sse.send(shape.usageChunk(o));
            sse.done();
        } catch (ApiError e) {
            if (!sse.opened()) throw e;
            sse.send(e.body()); // too late for a status: the error goes into the stream
        }
        return 200;
    }

    /** The tool calls the reply makes (none unless the request offered tools). */
    private static List<ToolFormat.Call> calls(Request req, Outcome o) {
        return req.tools() == null ? List.of() : req.tools().calls(o.text());
    }

    /**
     * The JSON of one response's id, time and model.
     *
     * @param logprobs    whether the request asked for logprobs
     * @param promptChars the prompt's length, where text completions' token offsets start
     */
    private record Shape(boolean chat, String id, long created, String model, boolean logprobs, int promptChars) {

        Map<String, Object> whole(Outcome o, List<ToolFormat.Call> calls) {
            Map<String, Object> choice = new LinkedHashMap<>();
            choice.put("index", 0);
            if (chat && !calls.isEmpty()) {
                Map<String, Object> message = new LinkedHashMap<>();
                message.put("role", "assistant");
                message.put("content", null);
                message.put("tool_calls", toolCalls(calls, false));
                choice.put("message", message);
            } else if (chat) {
                choice.put("message", Map.of("role", "assistant", "content", o.text()));
            } else {
                choice.put("text", o.text());
            }
            choice.put("logprobs", logprobs(o.logprobs(), promptChars));
            choice.put("finish_reason", calls.isEmpty() ? o.finish() : "tool_calls");
            Map<String, Object> out = envelope(chat ? "chat.completion" : "text_completion", List.of(choice));
            out.put("usage", usage(o));
            out.put("timings", timings(o));
            return out;
        }

        /**
         * @param delta   for chat the delta object (or a text piece), for completions the text
         * @param entries the logprobs of the tokens of this piece of text (null for none)
         * @param offset  where the piece starts in the prompt and completion text
         */
        Map<String, Object> chunk(Object delta, String finish, List<Logprob> entries, int offset) {
            Map<String, Object> choice = new LinkedHashMap<>();
            choice.put("index", 0);
            if (chat) choice.put("delta", delta instanceof String s ? Map.of("content", s) : delta);
            else choice.put("text", delta);
            choice.put("logprobs", entries == null ? null : logprobs(entries, offset));
            choice.put("finish_reason", finish);
            return envelope(chat ? "chat.completion.chunk" : "text_completion", List.of(choice));
        }

        private Map<String, Object> logprobs(List<Logprob> entries, int offset) {
            if (!logprobs) return null;
            return chat ? Logprobs.chat(entries) : Logprobs.text(entries, offset);
        }

        /** OpenAI's tool_calls; a stream's deltas also number them. */
        static List<Map<String, Object>> toolCalls(List<ToolFormat.Call> calls, boolean indexed) {
            List<Map<String, Object>> out = new ArrayList<>();
            for (ToolFormat.Call c : calls) {
                Map<String, Object> call = new LinkedHashMap<>();
                if (indexed) call.put("index", out.size());
                call.put("id", "call_" + UUID.randomUUID().toString().replace("-", "").substring(0, 24));
                call.put("type", "function");
                call.put("function", Map.of("name", c.name(), "arguments", c.arguments()));
                out.add(call);
            }
            return out;
        }

        Map<String, Object> usageChunk(Outcome o) {
            Map<String, Object> out = envelope(chat ? "chat.completion.chunk" : "text_completion", List.of());
            out.put("usage", usage(o));
            out.put("timings", timings(o));
            return out;
        }

        private Map<String, Object> envelope(String object, List<Map<String, Object>> choices) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("id", id);
            out.put("object", object);
            out.put("created", created);
            out.put("model", model);
            out.put("choices", choices);
            return out;
        }

        private static Map<String, Object> usage(Outcome o) {
            Map<String, Object> u = new LinkedHashMap<>();
            u.put("prompt_tokens", o.promptTokens());
            u.put("completion_tokens", o.tokens());
            u.put("total_tokens", o.promptTokens() + o.tokens());
            u.put("prompt_tokens_details", Map.of("cached_tokens", o.cached()));
            return u;
        }

        /**
         * llama.cpp's names: prompt_n counts the evaluated prompt tokens, cached_n the reused ones; prompt_ms is their
         * evaluation alone, time_to_first_token_ms adds rendering, tokenizing and the first sampling.
         */
        private static Map<String, Object> timings(Outcome o) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("prompt_n", o.promptTokens() - o.cached());
            t.put("cached_n", o.cached());
            t.put("prompt_ms", o.promptNanos() / 1e6);
            t.put("prompt_per_second", o.promptPerSecond());
            t.put("predicted_n", o.tokens());
            t.put("predicted_ms", o.decodeNanos() / 1e6);
            t.put("predicted_per_second", o.decodePerSecond());
            t.put("time_to_first_token_ms", o.firstTokenNanos() / 1e6);
            return t;
        }
    }
}
