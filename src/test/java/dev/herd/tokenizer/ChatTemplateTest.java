package dev.herd.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.herd.tokenizer.ChatTemplate.Format;
import dev.herd.tokenizer.ChatTemplate.Message;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class ChatTemplateTest {
    private static final List<Message> CHAT = List.of(
            new Message("system", "You are a helpful assistant."),
            new Message("user", "Hello!"),
            new Message("assistant", "Hi. How can I help?"),
            new Message("user", "Tell me a joke."));

    /** Meta's Llama 2 chat template, as in Llama-2-7b-chat-hf's tokenizer_config.json. */
    private static final String LLAMA2 = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
            + "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
            + "{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}"
            + "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}"
            + "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
            + "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";
    /** Mistral-7B-Instruct-v0.1's template. */
    private static final String MISTRAL = "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
            + "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
            + "{% endif %}{% endfor %}";
    /** google/gemma-7b-it's template. */
    private static final String GEMMA = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
            + "{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
            + "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}"
            + "{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}";
    private static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    @Test
    void llama3FromRealTokenizerConfig() throws IOException {
        String jinja = new ObjectMapper().readTree(Resources.path("llama3-tokenizer_config.json").toFile()).path("chat_template").asText();
        Tokenizer t = Resources.bpe();
        ChatTemplate template = ChatTemplate.detect(jinja, t);
        assertThat(template.format()).isEqualTo(Format.LLAMA3);
        // the template: bos_token before the first message, each as header + "\n\n" + trimmed content + <|eot_id|>,
        // then the assistant header (this template writes it unconditionally)
        String prompt = template.render(List.of(new Message("system", "You are a helpful assistant."),
                new Message("user", " Hello! \n")), true);
        assertThat(prompt).isEqualTo("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
        int[] ids = t.encodeWithSpecials(prompt);
        assertThat(ids).startsWith(128000, 128006, 9125, 128007, 271).endsWith(128009, 128006, 78191, 128007, 271);
        assertThat(t.decode(ids)).isEqualTo("system\n\nYou are a helpful assistant.user\n\nHello!assistant\n\n"); // specials decode to nothing
    }

    @Test
    void llama2() {
        ChatTemplate template = ChatTemplate.detect(LLAMA2, Resources.spm());
        assertThat(template.format()).isEqualTo(Format.LLAMA2);
        assertThat(template.render(CHAT, true)).isEqualTo(
                "<s>[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello! [/INST] Hi. How can I help? </s>"
                        + "<s>[INST] Tell me a joke. [/INST]");
        // llama.cpp puts a space in front of text after a special token: "▁[INST]" is 518 25580 29962
        assertThat(Resources.spm().encodeWithSpecials("<s>[INST] Hi [/INST]"))
                .containsExactly(1, 518, 25580, 29962, 6324, 518, 29914, 25580, 29962);
    }

    @Test
    void mistral() {
        ChatTemplate template = ChatTemplate.detect(MISTRAL, Resources.spm());
        assertThat(template.format()).isEqualTo(Format.MISTRAL);
        assertThat(template.render(CHAT, true)).isEqualTo(
                "<s>[INST] You are a helpful assistant.\n\nHello! [/INST]Hi. How can I help?</s>[INST] Tell me a joke. [/INST]");
    }

    /** Gemma: roles user and model; a system prompt (which its template refuses) goes before the first user text. */
    @Test
    void gemma() {
        rendersChat(GEMMA, Format.GEMMA, "<s><start_of_turn>user\nYou are a helpful assistant.\n\nHello!<end_of_turn>\n"
                + "<start_of_turn>model\nHi. How can I help?<end_of_turn>\n<start_of_turn>user\nTell me a joke.<end_of_turn>\n", "<start_of_turn>model\n");
    }

    @Test
    void chatMlAddsGenerationPromptOnceAtTheEnd() {
        rendersChat(CHATML, Format.CHATML, "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n"
                + "<|im_start|>assistant\nHi. How can I help?<|im_end|>\n<|im_start|>user\nTell me a joke.<|im_end|>\n", "<|im_start|>assistant\n");
    }

    /** The template is detected as {@code format} and renders CHAT as {@code expected}, then {@code prompt} where the reply begins. */
    private static void rendersChat(String jinja, Format format, String expected, String prompt) {
        ChatTemplate template = ChatTemplate.detect(jinja, Resources.spm());
        assertThat(template.format()).isEqualTo(format);
        assertThat(template.render(CHAT, false)).isEqualTo(expected);
        assertThat(template.render(CHAT, true)).isEqualTo(expected + prompt);
    }

    @Test
    void withoutTemplateTheTokensDecide() {
        assertThat(ChatTemplate.detect(null, Resources.bpe()).format()).isEqualTo(Format.LLAMA3);
        assertThat(ChatTemplate.detect("{{ unknown }}", Resources.spm()).format()).isEqualTo(Format.LLAMA2);
    }
}
