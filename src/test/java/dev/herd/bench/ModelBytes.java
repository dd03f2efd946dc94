package dev.herd.bench;

import dev.herd.format.GgufFile;
import dev.herd.tokenizer.Tokenizer;
import dev.herd.tokenizer.Tokenizers;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What {@code bench/compare.sh} needs to know about a GGUF file before running it:
 * <ul>
 * <li>the bytes one decoded token reads: every tensor once, except that the token embedding table only gives one row
 * when the model has its own {@code output.weight} (when it has none, the table is read whole as the output matrix),
 * and of a mixture's stacked experts only the {@code expert_used_count} a token runs;
 * the KV cache is left out (a few MB at the lengths benchmarked);</li>
 * <li>the prompt's token count with the file's own tokenizer and BOS, so Herd's {@code --steps} decodes exactly the
 * number of tokens llama.cpp is asked for;</li>
 * <li>with a target token count, the prompt made of the given text repeated until it has at least that many tokens:
 * a sentence is 14 tokens for Llama 3's tokenizer but ~46 for the synthetic test models', so a fixed repeat count
 * would not give a prompt of the same length on every file.</li>
 * </ul>
 * Run from source against the jar: {@code java -cp target/herd.jar src/test/java/dev/herd/bench/ModelBytes.java MODEL TEXT [TARGET]}.
 * Prints {@code model_bytes token_bytes=N file_bytes=N prompt_tokens=N repeats=N}, then {@code prompt TEXT} on one line.
 */
public final class ModelBytes {
    public static void main(String[] args) throws Exception {
        Path path = Path.of(args[0]);
        try (GgufFile file = GgufFile.open(path)) {
            long total = 0, used = file.integer(file.string("general.architecture", "") + ".expert_used_count", 0);
            for (GgufFile.TensorInfo t : file.tensors().values()) {
                long[] d = t.dims();
                total += d.length == 3 && used > 0 ? t.bytes() / d[2] * used : t.bytes(); // stacked experts: those a token uses
            }
            GgufFile.TensorInfo embedding = file.tensors().get("token_embd.weight");
            if (embedding != null && file.hasTensor("output.weight")) total -= embedding.bytes();
            Tokenizer tokenizer = Tokenizers.fromGguf(file);
            String text = args.length > 1 ? args[1] : "", prompt = text;
            int target = args.length > 2 ? Integer.parseInt(args[2]) : 0, repeats = 1;
            int promptTokens = tokenizer.withBos(tokenizer.encode(prompt)).length;
            while (promptTokens < target && !text.isBlank()) {
                prompt += " " + text;
                repeats++;
                promptTokens = tokenizer.withBos(tokenizer.encode(prompt)).length;
            }
            System.out.printf("model_bytes token_bytes=%d file_bytes=%d prompt_tokens=%d repeats=%d%n", total, Files.size(path),
                    promptTokens, repeats);
            System.out.println("prompt " + prompt.replace('\n', ' '));
        }
    }
}
