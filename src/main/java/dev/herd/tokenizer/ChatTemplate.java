package dev.herd.tokenizer;

import java.util.List;

/**
 * Renders chat messages the way a model's Jinja chat template would, for the template families Herd knows; the
 * family is recognised by markers in the template text, no Jinja engine is involved. The output contains the
 * special-token texts (BOS included where the template writes it): encode it with {@link Tokenizer#encodeWithSpecials}
 * and do not add another BOS.
 */
public record ChatTemplate(Format format, String bos, String eos) {

    public enum Format { LLAMA2, LLAMA3, CHATML, MISTRAL, GEMMA }

    public record Message(String role, String content) {}

    /** The role of the functions a Mistral prompt offers (a JSON array), written before the last user turn. */
    public static final String TOOLS_ROLE = "available_tools";

    /** The family of a Jinja template, else (no template, or one not recognised) guessed from the tokens present. */
    public static ChatTemplate detect(String jinja, Tokenizer tokenizer) {
        Format format = jinja == null ? null : fromMarkers(jinja);
        if (format == null) format = fromTokens(tokenizer);
        String bos = tokenizer.bos() >= 0 ? tokenizer.piece(tokenizer.bos()) : "";
        String eos = tokenizer.eos().isEmpty() ? "" : tokenizer.piece(tokenizer.eos().iterator().next());
        return new ChatTemplate(format, bos, eos);
    }

    private static Format fromMarkers(String jinja) {
        if (jinja.contains("<|start_header_id|>")) return Format.LLAMA3;
        if (jinja.contains("<|im_start|>")) return Format.CHATML;
        if (jinja.contains("<<SYS>>")) return Format.LLAMA2;
        if (jinja.contains("[INST]")) return Format.MISTRAL;
        if (jinja.contains("<start_of_turn>")) return Format.GEMMA;
        return null;
    }

    private static Format fromTokens(Tokenizer t) {
        if (t.id("<|start_header_id|>") >= 0) return Format.LLAMA3;
        if (t.id("<|im_start|>") >= 0) return Format.CHATML;
        if (t.id("[INST]") >= 0) return Format.MISTRAL;
        if (t.id("<start_of_turn>") >= 0) return Format.GEMMA;
        return t.id("<s>") >= 0 ? Format.LLAMA2 : Format.CHATML;
    }

    /** The prompt text; with addGenerationPrompt it ends where the assistant's reply begins. */
    public String render(List<Message> messages, boolean addGenerationPrompt) {
        StringBuilder out = new StringBuilder();
        switch (format) {
            case LLAMA3 -> {
                out.append(bos);
                for (Message m : messages) {
                    out.append("<|start_header_id|>").append(m.role()).append("<|end_header_id|>\n\n")
                            .append(m.content().strip()).append("<|eot_id|>");
                }
                if (addGenerationPrompt) out.append("<|start_header_id|>assistant<|end_header_id|>\n\n");
            }
            case CHATML -> {
                for (Message m : messages) {
                    out.append("<|im_start|>").append(m.role()).append('\n').append(m.content()).append("<|im_end|>\n");
                }
                if (addGenerationPrompt) out.append("<|im_start|>assistant\n");
            }
            case LLAMA2 -> {
                // Meta's template: the system prompt goes into the first user turn; a user turn already ends in
                // the generation prompt ("[/INST]")
                String system = systemPrompt(messages);
                boolean first = true;
                for (Message m : turns(messages)) {
                    String content = first && system != null ? "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + m.content() : m.content();
                    first = false;
                    if (m.role().equals("user")) out.append(bos).append("[INST] ").append(content.strip()).append(" [/INST]");
                    else out.append(' ').append(content.strip()).append(' ').append(eos);
                }
            }
            case GEMMA -> {
                // Gemma's template: roles user and model, no system role (its later templates put it before the first user text)
                String system = systemPrompt(messages);
                out.append(bos);
                for (Message m : turns(messages)) {
                    String content = system != null && m.role().equals("user") ? system + "\n\n" + m.content() : m.content();
                    if (m.role().equals("user")) system = null;
                    out.append("<start_of_turn>").append(m.role().equals("assistant") ? "model" : m.role()).append('\n')
                            .append(content.strip()).append("<end_of_turn>\n");
                }
                if (addGenerationPrompt) out.append("<start_of_turn>model\n");
            }
            case MISTRAL -> {
                // Mistral's templates have no system role; like its later templates, put it before the first user text
                String system = systemPrompt(messages);
                out.append(bos);
                for (Message m : turns(messages)) {
                    switch (m.role()) {
                        case "user" -> {
                            String content = system != null ? system + "\n\n" + m.content() : m.content();
                            system = null;
                            out.append("[INST] ").append(content).append(" [/INST]");
                        }
                        // tokenizers from v3 on: these markers are control tokens
                        case TOOLS_ROLE -> out.append("[AVAILABLE_TOOLS] ").append(m.content()).append("[/AVAILABLE_TOOLS]");
                        case "tool" -> out.append("[TOOL_RESULTS] ").append(m.content()).append("[/TOOL_RESULTS]");
                        default -> out.append(m.content()).append(eos);
                    }
                }
            }
        }
        return out.toString();
    }

    private static String systemPrompt(List<Message> messages) {
        return !messages.isEmpty() && messages.getFirst().role().equals("system") ? messages.getFirst().content() : null;
    }

    private static List<Message> turns(List<Message> messages) {
        return systemPrompt(messages) != null ? messages.subList(1, messages.size()) : messages;
    }
}
