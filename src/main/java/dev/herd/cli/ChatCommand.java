package dev.herd.cli;

import dev.herd.engine.ChatSession;
import dev.herd.engine.Generation;
import dev.herd.engine.Generator;
import dev.herd.engine.Model;
import dev.herd.engine.Sequence;
import dev.herd.tokenizer.ChatTemplate;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** Interactive chat on stdin/stdout with the chat template the model declares. Ends at end of input. */
@Command(name = "chat", mixinStandardHelpOptions = true, description = "Chat with a model, using its chat template.")
final class ChatCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Mixin
    SamplingOptions sampling;

    @Option(names = "--system", paramLabel = "TEXT", description = "System prompt (otherwise asked for at the start).")
    String system;

    @Option(names = "--max-tokens", defaultValue = "1024", paramLabel = "N", description = "Longest reply (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Override
    public Integer call() throws IOException {
        PrintStream out = System.out;
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try (ModelOptions.Run run = model.open()) {
            Model m = run.model();
            ChatSession chat = new ChatSession(m);
            var sampler = sampling.sampler(m.llama.vocab());
            List<ChatTemplate.Message> messages = new ArrayList<>();
            System.err.printf("%s, chat template %s, context %d tokens. End with Ctrl-D.%n", m.name,
                    chat.template().format().name().toLowerCase(), m.llama.maxSeqLen());
            String sys = system;
            if (sys == null) {
                out.print("System prompt (Enter for none): ");
                out.flush();
                sys = in.readLine();
                if (sys == null) return 0;
            }
            if (!sys.isBlank()) messages.add(new ChatTemplate.Message("system", sys));
            while (true) {
                out.print("\n> ");
                out.flush();
                String line = in.readLine();
                if (line == null) break;
                if (line.isBlank()) continue;
                messages.add(new ChatTemplate.Message("user", line));
                long renderStart = System.nanoTime();
                int[] prompt = chat.prompt(messages);
                long renderNanos = System.nanoTime() - renderStart;
                Generation.Result reply = chat.complete(prompt, new Sequence(m, sampler, piece -> {
                    out.print(piece.text());
                    out.flush();
                }), maxTokens);
                Generator.Result r = reply.run();
                messages.add(new ChatTemplate.Message("assistant", m.tokenizer.decode(r.tokens())));
                System.err.printf("%n[%d tokens, decode %.1f tok/s; prompt %d new tokens (%d reused), %.1f tok/s; TTFT %.0f ms]%n", r.tokens().length,
                        r.decodePerSecond(), r.promptTokens(), reply.reused(), r.promptPerSecond(), (renderNanos + r.firstTokenNanos()) / 1e6);
                if (r.stop() == Generator.Stop.CONTEXT) {
                    out.println("\n(end of context)");
                    break;
                }
            }
        }
        out.println();
        return 0;
    }
}
