package dev.herd.api;

import dev.herd.grammar.Grammar;
import dev.herd.tokenizer.ChatTemplate;

import java.util.List;

/**
 * One completion request, validated: either chat messages or a raw prompt.
 *
 * @param maxTokens null for as many as the context holds
 * @param seed      null for a random one
 * @param logprobs  -1 for none, else how many alternatives to report with each token's logprob
 * @param format    the grammar the output must follow (response_format, or a forced tool call), or null
 * @param tools     the functions the model may call, or null
 */
record Request(List<ChatTemplate.Message> messages, String prompt, float temperature, float topP, Integer maxTokens,
               List<String> stop, Long seed, boolean stream, boolean includeUsage, int logprobs, Grammar format, Tools tools) {

    boolean chat() {
        return messages != null;
    }
}
