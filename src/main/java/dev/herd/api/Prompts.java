package dev.herd.api;

import dev.herd.engine.Generation;
import dev.herd.engine.Model;
import dev.herd.tokenizer.ChatTemplate;
import dev.herd.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Tokenizes a request's prompt before it takes the model, so that a prompt longer than the context is refused without
 * holding it. A text longer than the context times the longest token's text cannot fit: it is refused untokenized.
 */
final class Prompts {
    private final Model model;
    private final Generation generation;
    private final ChatTemplate template;
    private final ToolFormat toolFormat;
    private final int context;
    private final long maxChars;

    Prompts(Model model) {
        this.model = model;
        this.generation = new Generation(model);
        this.template = model.chatTemplate();
        this.toolFormat = ToolFormat.of(template.format(), model.tokenizer);
        this.context = model.llama.maxSeqLen();
        Tokenizer t = model.tokenizer;
        int longest = 1;
        for (int id = 0; id < t.vocabSize(); id++) longest = Math.max(longest, Math.max(t.bytes(id).length, t.piece(id).length()));
        this.maxChars = (long) context * longest;
    }

    ToolFormat toolFormat() {
        return toolFormat;
    }

    /** The prompt's token ids (for chat, as the conversation renders alone: the session may splice a reply in). */
    int[] tokens(Request req) {
        String param = req.chat() ? "messages" : "prompt";
        String text = req.chat() ? template.render(req.messages(), true) + opening(req) : req.prompt();
        if (text.length() > maxChars) {
            throw tooLong(param, "the prompt has " + text.length() + " characters, more than the " + context + " tokens the context holds can spell");
        }
        int[] ids = req.chat() ? model.tokenizer.encodeWithSpecials(text) : model.encodePrompt(text);
        if (ids.length == 0) throw ApiError.invalid(param, "the prompt is empty");
        try {
            generation.room(ids.length);
        } catch (Generation.ContextFull e) {
            throw tooLong(param, e.getMessage());
        }
        return ids;
    }

    /** What a forced tool call's reply begins with in the prompt (Mistral's control token). */
    private static String opening(Request req) {
        return req.tools() != null && req.tools().forced() ? req.tools().format().opening() : "";
    }

    /**
     * Texts to embed as token ids (with BOS when the model asks for it). Together they may hold at most the context's
     * length in tokens: a request costs at most one full prompt's evaluation, however its texts are cut.
     */
    List<int[]> inputs(List<String> texts) {
        List<int[]> out = new ArrayList<>();
        long chars = 0;
        int tokens = 0;
        for (int i = 0; i < texts.size(); i++) {
            String text = texts.get(i), param = texts.size() == 1 ? "input" : "input[" + i + "]";
            if (text.isEmpty()) throw ApiError.invalid(param, "the input is empty");
            if ((chars += text.length()) > maxChars) {
                throw tooLong("input", "the inputs have over " + chars + " characters, more than the " + context + " tokens the context holds can spell");
            }
            int[] ids = model.encodePrompt(text);
            tokens += ids.length;
            out.add(ids);
        }
        try {
            generation.fits(tokens);
        } catch (Generation.ContextFull e) {
            throw tooLong("input", e.getMessage());
        }
        return out;
    }

    static ApiError tooLong(String param, String message) {
        return new ApiError(400, "invalid_request_error", param, "context_length_exceeded", message);
    }
}
