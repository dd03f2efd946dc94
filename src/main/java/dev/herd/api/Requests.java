package dev.herd.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.herd.engine.Logprob;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herd.tokenizer.ChatTemplate;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** Reads OpenAI request bodies into {@link Request}s; anything wrong or unsupported is a 400 naming the field. */
final class Requests {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> ROLES = Set.of("system", "developer", "user", "assistant", "tool");
    private static final int MAX_CALLS = 128;
    /** OpenAI's bound for the completions endpoint's {@code logprobs}. */
    static final int MAX_TEXT_LOGPROBS = 5;

    private Requests() {}

    /** @param format how the model's chat template family writes tools and calls */
    static Request chat(JsonNode body, ToolFormat format) {
        object(body);
        JsonNode list = body.get("messages");
        if (list == null || !list.isArray()) throw ApiError.invalid("messages", "'messages' must be an array of messages");
        if (list.isEmpty()) throw ApiError.invalid("messages", "'messages' must hold at least one message");
        Tools tools = Tools.read(body, format);
        List<ChatTemplate.Message> messages = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) messages.add(message(list.get(i), "messages[" + i + "]", format));
        if (tools != null) messages = format.offer(messages, tools.offered());
        Integer max = integer(body, "max_completion_tokens");
        Integer top = integer(body, "top_logprobs");
        if (top != null && (top < 0 || top > Logprob.MAX_TOP)) throw ApiError.invalid("top_logprobs", "'top_logprobs' must be between 0 and " + Logprob.MAX_TOP);
        boolean logprobs = bool(body, "logprobs");
        if (top != null && !logprobs) throw ApiError.invalid("top_logprobs", "'top_logprobs' needs 'logprobs': true");
        return common(body, messages, null, max != null ? max : integer(body, "max_tokens"), logprobs ? (top == null ? 0 : top) : -1, tools);
    }

    static Request text(JsonNode body) {
        object(body);
        JsonNode p = body.get("prompt");
        if (p != null && p.isArray() && p.size() == 1) p = p.get(0); // a one-prompt batch
        if (p == null || !p.isTextual()) throw ApiError.invalid("prompt", "'prompt' must be a string");
        for (String f : List.of("echo", "suffix", "best_of", "tools", "tool_choice")) unsupportedIfSet(body, f);
        Integer max = integer(body, "max_tokens");
        Integer logprobs = integer(body, "logprobs");
        if (logprobs != null && (logprobs < 0 || logprobs > MAX_TEXT_LOGPROBS)) {
            throw ApiError.invalid("logprobs", "'logprobs' must be between 0 and " + MAX_TEXT_LOGPROBS);
        }
        return common(body, null, p.asText(), max != null ? max : 16, logprobs == null ? -1 : logprobs, null); // OpenAI's default for completions
    }

    private static Request common(JsonNode body, List<ChatTemplate.Message> messages, String prompt, Integer maxTokens, int logprobs, Tools tools) {
        if (maxTokens != null && maxTokens < 1) throw ApiError.invalid("max_tokens", "'max_tokens' must be at least 1");
        Integer n = integer(body, "n");
        if (n != null && n != 1) throw ApiError.unsupported("n");
        for (String f : List.of("functions", "function_call", "logit_bias")) {
            unsupportedIfSet(body, f);
        }
        for (String f : List.of("frequency_penalty", "presence_penalty")) {
            if (number(body, f, 0, -2, 2) != 0) throw ApiError.unsupported(f);
        }
        Long seed = body.hasNonNull("seed") ? whole(body, "seed") : null;
        boolean stream = bool(body, "stream");
        JsonNode options = body.get("stream_options");
        boolean usage = options != null && options.isObject() && options.path("include_usage").asBoolean(false);
        return new Request(messages, prompt, (float) number(body, "temperature", 1, 0, 2), (float) number(body, "top_p", 1, 0, 1),
                maxTokens, stops(body), seed, stream, usage, logprobs,
                tools != null && tools.forced() ? tools.grammar() : ResponseFormats.read(body.get("response_format")), tools);
    }

    private static ChatTemplate.Message message(JsonNode m, String at, ToolFormat format) {
        if (m == null || !m.isObject()) throw ApiError.invalid(at, "'" + at + "' must be an object with role and content");
        String role = m.path("role").asText("");
        if (!ROLES.contains(role)) throw ApiError.invalid(at + ".role", "'" + at + ".role' must be system, user, assistant or tool");
        JsonNode calls = m.get("tool_calls");
        if (calls != null && !calls.isNull() && !(calls.isArray() && calls.isEmpty())) {
            if (!role.equals("assistant")) throw ApiError.invalid(at + ".tool_calls", "only assistant messages have tool_calls");
            String text = m.hasNonNull("content") ? content(m.get("content"), at + ".content").strip() : "";
            String written = format.write(calls(calls, at + ".tool_calls"));
            return new ChatTemplate.Message("assistant", text.isEmpty() ? written : text + "\n" + written);
        }
        String content = content(m.get("content"), at + ".content");
        if (role.equals("tool")) return format.result(content);
        return new ChatTemplate.Message(role.equals("developer") ? "system" : role, content);
    }

    /** An assistant message's calls: functions by name with arguments as JSON-object text. */
    private static List<ToolFormat.Call> calls(JsonNode list, String at) {
        if (!list.isArray() || list.size() > MAX_CALLS) throw ApiError.invalid(at, "'" + at + "' must be an array of up to " + MAX_CALLS + " calls");
        List<ToolFormat.Call> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode f = list.get(i).path("function");
            String where = at + "[" + i + "].function";
            if (!f.path("name").isTextual() || !f.path("arguments").isTextual()) {
                throw ApiError.invalid(where, "'" + where + "' must hold a string 'name' and 'arguments' (JSON text)");
            }
            JsonNode args;
            try {
                args = JSON.readTree(f.get("arguments").asText());
            } catch (JsonProcessingException e) {
                args = null;
            }
            if (args == null || !args.isObject()) throw ApiError.invalid(where + ".arguments", "'" + where + ".arguments' must be a JSON object's text");
            out.add(new ToolFormat.Call(f.get("name").asText(), args.toString()));
        }
        return out;
    }

    /** A string, or text parts joined by newlines. */
    private static String content(JsonNode c, String at) {
        if (c != null && c.isTextual()) return c.asText();
        if (c == null || !c.isArray()) throw ApiError.invalid(at, "'" + at + "' must be a string or an array of text parts");
        StringBuilder text = new StringBuilder();
        for (int j = 0; j < c.size(); j++) {
            JsonNode part = c.get(j);
            String type = part.path("type").asText("");
            if (!type.equals("text")) {
                throw new ApiError(400, "invalid_request_error", at + "[" + j + "]", "unsupported_parameter",
                        "content parts of type '" + type + "' are not supported, only text");
            }
            if (!part.path("text").isTextual()) throw ApiError.invalid(at + "[" + j + "].text", "text parts need a string 'text'");
            if (j > 0) text.append('\n');
            text.append(part.get("text").asText());
        }
        return text.toString();
    }

    private static List<String> stops(JsonNode body) {
        JsonNode s = body.get("stop");
        if (s == null || s.isNull()) return List.of();
        if (s.isTextual()) return s.asText().isEmpty() ? List.of() : List.of(s.asText());
        if (!s.isArray() || s.size() > 4) throw ApiError.invalid("stop", "'stop' must be a string or an array of up to 4 strings");
        List<String> out = new ArrayList<>();
        for (JsonNode e : s) {
            if (!e.isTextual()) throw ApiError.invalid("stop", "'stop' must be a string or an array of up to 4 strings");
            if (!e.asText().isEmpty()) out.add(e.asText());
        }
        return out;
    }

    private static void object(JsonNode body) {
        if (body == null || !body.isObject()) throw ApiError.invalid(null, "the request body must be a JSON object");
    }

    private static void unsupportedIfSet(JsonNode body, String field) {
        JsonNode v = body.get(field);
        boolean unset = v == null || v.isNull() || (v.isBoolean() && !v.asBoolean()) || (v.isContainerNode() && v.isEmpty())
                || (v.isNumber() && v.asInt() == (field.equals("best_of") ? 1 : 0)); // the defaults, sent explicitly
        if (!unset) throw ApiError.unsupported(field);
    }

    private static double number(JsonNode body, String field, double otherwise, double min, double max) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) return otherwise;
        if (!v.isNumber()) throw ApiError.invalid(field, "'" + field + "' must be a number");
        double d = v.asDouble();
        if (d < min || d > max) throw ApiError.invalid(field, "'" + field + "' must be between " + min + " and " + max);
        return d;
    }

    private static Integer integer(JsonNode body, String field) {
        if (!body.hasNonNull(field)) return null;
        long v = whole(body, field);
        if (v > Integer.MAX_VALUE || v < Integer.MIN_VALUE) throw ApiError.invalid(field, "'" + field + "' is out of range");
        return (int) v;
    }

    private static long whole(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (!v.isIntegralNumber() || !v.canConvertToLong()) throw ApiError.invalid(field, "'" + field + "' must be an integer");
        return v.asLong();
    }

    private static boolean bool(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) return false;
        if (!v.isBoolean()) throw ApiError.invalid(field, "'" + field + "' must be true or false");
        return v.asBoolean();
    }
}
