package dev.herd.engine;

import dev.herd.HerdException;
import dev.herd.format.DllamaModel;
import dev.herd.format.DllamaTokenizerFile;
import dev.herd.format.GgufConfig;
import dev.herd.format.GgufFile;
import dev.herd.model.ModelConfig;
import dev.herd.tokenizer.ChatTemplate;
import dev.herd.tokenizer.Tokenizer;
import dev.herd.tokenizer.Tokenizers;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A model ready to run: the mapped file (GGUF, or a distributed-llama .m seen as one), the forward pass and the
 * tokenizer (from the file's metadata, or from a separate tokenizer file).
 */
public final class Model implements AutoCloseable {
    /** Tokens per forward chunk in prompt evaluation: weights are read once per chunk. */
    public static final int BATCH = 32;

    public final String name;
    public final GgufFile file;
    public final Llama llama;
    public final Tokenizer tokenizer;
    /** What the warm-up at load did; null when it was off. */
    public final WarmUp.Report warmUp;

    private Model(String name, GgufFile file, Llama llama, Tokenizer tokenizer, WarmUp.Report warmUp) {
        this.name = name;
        this.file = file;
        this.llama = llama;
        this.tokenizer = tokenizer;
        this.warmUp = warmUp;
    }

    /**
     * @param tokenizerPath null to use the tokenizer in the model file
     * @param maxSeqLen     KV cache length; 0 for the default ({@link ContextLength})
     */
    public static Model open(Path modelPath, Path tokenizerPath, int maxSeqLen, int threads) {
        return open(modelPath, tokenizerPath, maxSeqLen, threads, Runner.LOCAL);
    }

    /**
     * Opens a model whose forward pass {@code runner} builds (for example across a cluster), and runs the whole
     * generation path on dummy tokens for a moment ({@link WarmUp}, through the cluster too; off with
     * {@code -Dherd.warmup=false}) so that the first request is as fast as later ones.
     */
    public static Model open(Path modelPath, Path tokenizerPath, int maxSeqLen, int threads, Runner runner) {
        return open(modelPath, tokenizerPath, maxSeqLen, threads, runner, new PrintStream(OutputStream.nullOutputStream()));
    }

    /** As above; {@code log} gets the line saying the context was bounded by default, before the load. */
    public static Model open(Path modelPath, Path tokenizerPath, int maxSeqLen, int threads, Runner runner, PrintStream log) {
        return open(modelPath, tokenizerPath, maxSeqLen, 1, threads, runner, log);
    }

    /**
     * As above, with a KV cache for {@code parallel} sequences at once ({@link Scheduler}); 0 for as many as fit, up to
     * {@link ContextLength#SLOTS} ({@link ContextLength#choose(int, int, int, int)}).
     */
    public static Model open(Path modelPath, Path tokenizerPath, int maxSeqLen, int parallel, int threads, Runner runner, PrintStream log) {
        if (!Files.isRegularFile(modelPath)) throw new HerdException(modelPath + ": no such file");
        if (!DllamaModel.isDllama(modelPath) && !GgufFile.isGguf(modelPath)) {
            throw new HerdException(modelPath + ": not a GGUF file (nor a distributed-llama .m): convert it first, e.g. a llama2.c .bin with"
                    + " `herd convert --model " + modelPath + " --tokenizer tokenizer.model --output model.gguf` (see herd convert --help)");
        }
        GgufFile file = DllamaModel.isDllama(modelPath) ? DllamaModel.open(modelPath, dllamaTokenizer(tokenizerPath)) : GgufFile.open(modelPath);
        try {
            Tokenizer tokenizer = tokenizerPath != null && !DllamaModel.isDllama(modelPath) ? Tokenizers.fromFile(tokenizerPath) : tokenizerOf(file);
            ModelConfig config = GgufConfig.read(file);
            if (tokenizer.vocabSize() > config.vocab()) {
                throw new HerdException("the tokenizer has " + tokenizer.vocabSize() + " tokens but the model only " + config.vocab());
            }
            ContextLength context = ContextLength.choose(maxSeqLen, config.contextLength(),
                    maxSeqLen > 0 && parallel == 1 ? Integer.MAX_VALUE : runner.positionsThatFit(file, config), parallel);
            if (context.note() != null) log.println(context.note());
            Llama llama = runner.build(file, config, context.positions(), context.slots(), threads);
            WarmUp.Report warmUp;
            try {
                warmUp = WarmUp.enabled() ? WarmUp.run(llama, tokenizer, WarmUp.BUDGET_NANOS) : null;
            } catch (RuntimeException e) {
                llama.close();
                throw e;
            }
            return new Model(modelPath.getFileName().toString(), file, llama, tokenizer, warmUp);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    private static Map<String, Object> dllamaTokenizer(Path t) {
        if (t == null) throw new HerdException("a distributed-llama .m model needs its tokenizer: add --tokenizer FILE.t");
        return DllamaTokenizerFile.read(t).metadata();
    }

    private static Tokenizer tokenizerOf(GgufFile file) {
        if (!file.has("tokenizer.ggml.model")) {
            throw new HerdException(file.path() + ": the model file carries no tokenizer: add --tokenizer (tokenizer.model, tokenizer.json or .t)");
        }
        return Tokenizers.fromGguf(file);
    }

    /** The chat template the model file declares (recognised by its markers), else one guessed from its tokens. */
    public ChatTemplate chatTemplate() {
        return ChatTemplate.detect(file.string("tokenizer.chat_template", null), tokenizer);
    }

    /** Prompt text to token ids, with BOS when the tokenizer asks for it. */
    public int[] encodePrompt(String text) {
        return tokenizer.withBos(tokenizer.encode(text));
    }

    public int[] eosIds() {
        return tokenizer.eos().stream().mapToInt(Integer::intValue).toArray();
    }

    @Override
    public void close() {
        llama.close();
        file.close();
    }
}
