package dev.herd.engine;

import dev.herd.tokenizer.ChatTemplate;

import java.util.Arrays;
import java.util.List;

/**
 * A conversation over one KV cache. Each reply renders the whole conversation with the chat template, and only the
 * tokens after the longest prefix already in the cache are evaluated: a conversation that grows by a turn costs the
 * new turn, not the history.
 */
public final class ChatSession {
    private final Model model;
    private final ChatTemplate template;
    private final Generation generation;
    private int[] cached = new int[0]; // the tokens whose keys and values are in the cache, by position
    // The last rendered conversation and what was generated after it, to splice the reply's own tokens back in.
    private String renderedText;
    private int[] renderedIds;
    private String lastPromptText;
    private int[] lastPromptIds, lastReply;

    public ChatSession(Model model) {
        this(model, model.llama);
    }

    /** A conversation in the cache of {@code forward}: the model's own, or one slot's ({@link Scheduler}). */
    public ChatSession(Model model, Forward forward) {
        this.model = model;
        this.template = model.chatTemplate();
        this.generation = new Generation(model, forward);
    }

    /**
     * The conversation rendered with the template and tokenized, ending where the assistant's reply begins. When it
     * continues the last exchange, the reply keeps the token ids it was generated as (tokenizing its text again may
     * split it differently, which would cost re-evaluating the whole reply): the text after the reply must then start
     * with an end-of-turn token (after at most a space), so that the splice point is a token boundary in any
     * tokenization. White space the template adds around the reply is the generated tokens' own.
     */
    public int[] prompt(List<ChatTemplate.Message> messages) {
        String text = template.render(messages, true);
        int[] ids = spliced(text);
        renderedText = text;
        renderedIds = ids != null ? ids : model.tokenizer.encodeWithSpecials(text);
        return renderedIds;
    }

    private int[] spliced(String text) {
        if (lastPromptText == null || lastReply.length == 0 || !text.startsWith(lastPromptText)) return null;
        // The template may put white space around the reply (Llama 2: "[/INST] reply </s>"); the generated tokens
        // carry their own (SentencePiece's leading space), so compare the reply's text without it.
        String reply = model.tokenizer.decode(lastReply).strip(), rest = text.substring(lastPromptText.length()).stripLeading();
        if (reply.isEmpty() || !rest.startsWith(reply)) return null;
        int[] tail = model.tokenizer.encodeWithSpecials(rest.substring(reply.length()));
        // A lone space before </s> is one the model never generated (it ended the reply with </s> itself)
        if (tail.length > 1 && model.tokenizer.isEos(tail[1]) && model.tokenizer.decode(new int[]{tail[0]}).isBlank()) {
            tail = Arrays.copyOfRange(tail, 1, tail.length);
        }
        if (tail.length == 0 || !model.tokenizer.isEos(tail[0])) return null;
        int[] ids = Arrays.copyOf(lastPromptIds, lastPromptIds.length + lastReply.length + tail.length);
        System.arraycopy(lastReply, 0, ids, lastPromptIds.length, lastReply.length);
        System.arraycopy(tail, 0, ids, lastPromptIds.length + lastReply.length, tail.length);
        return ids;
    }

    /**
     * Continues any token sequence (a rendered conversation or a raw prompt) for {@code seq}, reusing the cached
     * prefix; refuses ({@link Generation.ContextFull}) a prompt that leaves no room in the context.
     */
    public Generation.Result complete(int[] prompt, Sequence seq, int maxTokens) {
        int room = generation.room(prompt.length);
        int reused = Math.min(commonPrefix(cached, prompt), prompt.length - 1); // evaluate at least one token
        cached = prompt; // if generation fails midway, only the prompt prefix is trusted
        Generation.Result r = generation.run(Arrays.copyOfRange(prompt, reused, prompt.length), reused, Math.min(maxTokens, room), seq);
        int[] tokens = r.run().tokens();
        // The last sampled token is only in the cache if generation went on past it (it stopped on EOS).
        int fed = r.run().stop() == Generator.Stop.EOS ? tokens.length : Math.max(tokens.length - 1, 0);
        cached = Arrays.copyOf(prompt, prompt.length + fed);
        System.arraycopy(tokens, 0, cached, prompt.length, fed);
        boolean conversation = prompt == renderedIds;
        lastPromptText = conversation ? renderedText : null;
        lastPromptIds = prompt;
        lastReply = tokens;
        return r;
    }

    /** Drops the cache's contents from reuse: the next reply evaluates its whole prompt. */
    public void forget() {
        cached = new int[0];
        lastPromptText = null;
    }

    public ChatTemplate template() {
        return template;
    }

    private static int commonPrefix(int[] a, int[] b) {
        int n = Math.min(a.length, b.length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }
}
