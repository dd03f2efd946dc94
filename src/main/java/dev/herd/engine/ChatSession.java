package dev.herd.engine;

import dev.herd.HerdException;
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
    private int[] cached = new int[0]; // the tokens whose keys and values are in the cache, by position

    public ChatSession(Model model) {
        this.model = model;
        this.template = model.chatTemplate();
    }

    /** A reply and how many prompt tokens were reused from the cache. */
    public record Reply(Generator.Result result, int reusedTokens) {}

    public Reply reply(List<ChatTemplate.Message> messages, Sampler sampler, int maxTokens, Generator.Listener listener) {
        return complete(prompt(messages), sampler, maxTokens, listener);
    }

    /** The conversation rendered with the template and tokenized, ending where the assistant's reply begins. */
    public int[] prompt(List<ChatTemplate.Message> messages) {
        return model.tokenizer.encodeWithSpecials(template.render(messages, true));
    }

    /** Continues any token sequence (a rendered conversation or a raw prompt), reusing the cached prefix. */
    public Reply complete(int[] prompt, Sampler sampler, int maxTokens, Generator.Listener listener) {
        int room = model.llama.maxSeqLen() - prompt.length;
        if (room <= 0) {
            throw new HerdException("the conversation has " + prompt.length + " tokens, the context holds " + model.llama.maxSeqLen());
        }
        int reused = Math.min(commonPrefix(cached, prompt), prompt.length - 1); // evaluate at least one token
        cached = prompt; // if generation fails midway, only the prompt prefix is trusted
        Generator.Result r = new Generator(model.llama, sampler, model.eosIds())
                .generate(Arrays.copyOfRange(prompt, reused, prompt.length), reused, Math.min(maxTokens, room), listener);
        // The last sampled token is only in the cache if generation went on past it (it stopped on EOS).
        int fed = r.stop() == Generator.Stop.EOS ? r.tokens().length : Math.max(r.tokens().length - 1, 0);
        cached = Arrays.copyOf(prompt, prompt.length + fed);
        System.arraycopy(r.tokens(), 0, cached, prompt.length, fed);
        return new Reply(r, reused);
    }

    /** Drops the cache's contents from reuse: the next reply evaluates its whole prompt. */
    public void forget() {
        cached = new int[0];
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
