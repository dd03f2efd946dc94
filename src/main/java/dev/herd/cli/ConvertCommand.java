package dev.herd.cli;

import dev.herd.HerdException;
import dev.herd.convert.DllamaConverter;
import dev.herd.convert.GgufRequantizer;
import dev.herd.convert.HfConverter;
import dev.herd.convert.Progress;
import dev.herd.convert.RandomModel;
import dev.herd.convert.WeightTypes;
import dev.herd.format.DllamaModel;
import dev.herd.format.DllamaTokenizerFile;
import dev.herd.format.GgufFile;
import dev.herd.format.Llama2cCheckpoint;
import dev.herd.tensor.GgmlType;
import dev.herd.tokenizer.TokenizerMetadata;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

/** Any model file a user has (Hugging Face folder, llama2.c .bin, distributed-llama .m, GGUF) to one GGUF. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = {"Convert a model to GGUF: a Hugging Face folder, a llama2.c .bin (with --tokenizer tokenizer.model),",
                "a distributed-llama .m (with --tokenizer .t), a GGUF (to another weight type), or --random SHAPE."})
final class ConvertCommand implements Callable<Integer> {
    static final class Input {
        @Option(names = "--model", paramLabel = "PATH", description = "Model folder or file to convert.")
        Path model;

        @Option(names = "--random", arity = "0..1", fallbackValue = "", paramLabel = "SHAPE",
                description = "Random weights of a named shape (llama3.2-1b, llama3.1-8b, llama3.1-70b, llama3.1-405b, qwen3-8b, "
                        + "qwen3-30b-a3b, mixtral-8x7b, tiny), or of --config; with --tokenizer, its vocabulary.")
        String random;
    }

    @ArgGroup(multiplicity = "1")
    Input input;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "tokenizer.model, tokenizer.json or .t to embed (a Hugging Face folder's own is used by default).")
    Path tokenizer;

    @Option(names = "--output", required = true, paramLabel = "FILE", description = "The GGUF to write.")
    Path output;

    @Option(names = "--weights-float-type", defaultValue = "q40", paramLabel = "TYPE", description = "q40, q80, f16, bf16 or f32: every matrix in that type; q4_k_m or q6_k: llama.cpp's mixtures, "
                    + "each tensor's type chosen as its quantizer does (rows not a multiple of 256 fall back to Q5_0 or Q8_0); keep: a GGUF's "
                    + "own types (to stack a mixture's experts written one tensor each; a .m always keeps its own) (default: ${DEFAULT-VALUE}).")
    String weightsFloatType;

    @Option(names = "--config", paramLabel = "FILE", description = "With --random: a Hugging Face config.json giving the shape.")
    Path config;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of --random weights.")
    long seed;

    @Option(names = "--layers", defaultValue = "0", paramLabel = "N", description = "With --random: N layers of the shape's per-layer shape (a smaller file to try).")
    int layers;

    @Override
    public Integer call() throws IOException {
        boolean keep = weightsFloatType.equalsIgnoreCase("keep");
        if (keep && (input.random != null || Files.isDirectory(input.model) || Files.isRegularFile(input.model) && !GgufFile.isGguf(input.model) && !DllamaModel.isDllama(input.model))) {
            throw new HerdException("--weights-float-type keep rewrites a GGUF or .m file, which this input is not");
        }
        WeightTypes type = keep ? WeightTypes.KEEP : WeightTypes.parse(weightsFloatType);
        // checked first: a Hugging Face folder would otherwise silently fall back to its own tokenizer
        if (tokenizer != null && !Files.isRegularFile(tokenizer)) throw new HerdException(tokenizer + ": no such tokenizer file");
        Path folder = output.toAbsolutePath().getParent();
        if (!Files.isDirectory(folder)) throw new HerdException(output + ": cannot write, folder " + folder + " does not exist");
        long start = System.nanoTime();
        Progress bar = new ProgressBar(System.err, "converting");
        if (input.random != null) {
            String shape = config != null ? config.toString() : input.random;
            if (shape.isEmpty()) throw new HerdException("--random needs a shape name or --config config.json");
            if (config != null && !input.random.isEmpty()) throw new HerdException("give --random a shape name or --config, not both");
            if (type.llamaCpp()) throw new HerdException("--random writes q40, q80, f16, bf16 or f32 weights: convert its f32 file to " + type.name() + " afterwards");
            Map<String, Object> tok = tokenizerMetadata(tokenizer);
            RandomModel.write(RandomModel.resized(RandomModel.shapeOf(shape), layers, tok), type.base(), output, seed, tok, bar);
        } else {
            if (config != null || layers != 0) throw new HerdException((config != null ? "--config" : "--layers") + " goes with --random");
            convert(input.model, type, bar);
        }
        System.err.printf("wrote %s (%s) in %.1f s%n", output, ProgressBar.size(Files.size(output)), (System.nanoTime() - start) / 1e9);
        return 0;
    }

    private void convert(Path in, WeightTypes type, Progress bar) throws IOException {
        if (!Files.exists(in)) throw new HerdException(in + ": no such file or folder");
        if (Files.isDirectory(in)) {
            Path tok = tokenizer != null ? tokenizer : in.resolve("tokenizer.json");
            if (!Files.exists(tok)) tok = in.resolve("tokenizer.model");
            HfConverter.convert(in, output, type, tokenizerMetadata(Files.exists(tok) ? tok : null), bar);
        } else if (DllamaModel.isDllama(in)) { // a .m always keeps its own types
            DllamaConverter.convert(in, tokenizer, output, bar);
        } else if (GgufFile.isGguf(in)) {
            GgufRequantizer.convert(in, output, type, tokenizerMetadata(tokenizer), bar);
        } else {
            if (tokenizer == null) throw new HerdException("a llama2.c checkpoint has no tokenizer: add --tokenizer tokenizer.model");
            Map<String, Object> tok = tokenizerMetadata(tokenizer);
            if (type.base() == GgmlType.F32) {
                Llama2cCheckpoint.convert(in, output, tok);
                return;
            }
            Path f32 = temp();
            try {
                Llama2cCheckpoint.convert(in, f32, tok);
                GgufRequantizer.convert(f32, output, type, Map.of(), bar);
            } finally {
                Files.deleteIfExists(f32);
            }
        }
    }

    private Path temp() throws IOException {
        Path dir = output.toAbsolutePath().getParent();
        return Files.createTempFile(dir, "herd-convert-", ".gguf");
    }

    private static Map<String, Object> tokenizerMetadata(Path file) {
        if (file == null) return Map.of();
        if (file.getFileName().toString().endsWith(".t")) return DllamaTokenizerFile.read(file).metadata();
        return TokenizerMetadata.read(file);
    }
}
