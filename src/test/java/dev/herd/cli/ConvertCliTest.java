package dev.herd.cli;

import dev.herd.Shared;
import dev.herd.Stories15M;
import dev.herd.convert.HfFolder;
import dev.herd.engine.Generator;
import dev.herd.engine.Model;
import dev.herd.engine.Sampler;
import dev.herd.format.GgufFile;
import dev.herd.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.herd.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

/** herd convert from every input it takes, checked by running what it wrote; bad input is one line, exit code 1. */
class ConvertCliTest {
    @TempDir
    Path dir;

    static Path resource(String name) throws Exception {
        return Path.of(ConvertCliTest.class.getResource(name).toURI());
    }

    static CliTest.Result ok(String... args) {
        CliTest.Result r = run(args);
        assertThat(r.code()).as(String.join(" ", args) + "\n" + r.err()).isZero();
        return r;
    }

    static int[] greedy(Path model, Path tokenizer) {
        try (Model m = Model.open(model, tokenizer, 64, 2)) {
            return new Generator(m.llama, Sampler.greedy(m.llama.vocab())).generate(m.encodePrompt("Hello world"), 0, 24, (t, n) -> {}).tokens();
        }
    }

    @Test
    void dllamaModelGivesTheSameGreedyTokensDirectlyAndAfterConversion() {
        Path m = Shared.model("tiny_q40.m"), t = Shared.model("tiny.t"), out = dir.resolve("tiny.gguf");
        Path bare = dir.resolve("bare.gguf"), retokenized = dir.resolve("retokenized.gguf");
        ok("convert", "--model", m.toString(), "--tokenizer", t.toString(), "--output", out.toString());
        int[] direct = greedy(m, t);
        assertThat(direct).hasSize(24); // no EOS cuts the comparison short
        assertThat(greedy(out, null)).containsExactly(direct);
        // keep, as the loader's message for a .m mixture asks: a .m always keeps its types
        Path kept = dir.resolve("kept.gguf");
        ok("convert", "--model", m.toString(), "--tokenizer", t.toString(), "--output", kept.toString(), "--weights-float-type", "keep");
        try (GgufFile a = GgufFile.open(out); GgufFile b = GgufFile.open(kept)) {
            assertThat(b.bytes("blk.3.ffn_down.weight").mismatch(a.bytes("blk.3.ffn_down.weight"))).isEqualTo(-1);
        }
        // without a tokenizer, then GGUF to GGUF adding it (Q4_0 blocks copied as they are)
        ok("convert", "--model", m.toString(), "--output", bare.toString());
        ok("convert", "--model", bare.toString(), "--tokenizer", t.toString(), "--output", retokenized.toString());
        try (GgufFile a = GgufFile.open(out); GgufFile b = GgufFile.open(retokenized)) {
            assertThat(b.array("tokenizer.ggml.tokens", String[].class)).containsExactly(a.array("tokenizer.ggml.tokens", String[].class));
            assertThat(b.bytes("blk.3.ffn_down.weight").mismatch(a.bytes("blk.3.ffn_down.weight"))).isEqualTo(-1);
        }
    }

    @Test
    void hfFolderWithItsTokenizerConvertsAndRuns() throws Exception {
        Path in = HfFolder.of("LlamaForCausalLM", 64, 128, 2, 4, 2, 0, 32000, true, 3).write(dir.resolve("hf"), "BF16", 2);
        Files.copy(resource("/tokenizer/llama2-tokenizer.model"), in.resolve("tokenizer.model"));
        Path out = dir.resolve("hf.gguf");
        assertThat(ok("convert", "--model", in.toString(), "--output", out.toString(), "--weights-float-type", "q80").err()).contains("wrote " + out);
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.tensors().get("blk.0.attn_q.weight").type()).isEqualTo(GgmlType.Q8_0);
            assertThat(f.array("tokenizer.ggml.tokens", String[].class)).hasSize(32000);
        }
        assertThat(ok("inference", "--model", out.toString(), "--prompt", "Once upon", "--steps", "8", "--temperature", "0").out()).startsWith("Once upon");
    }

    @Test
    void randomNamedShapeAndConfigJson() throws Exception {
        Path tiny = dir.resolve("tiny.gguf");
        ok("convert", "--random", "tiny", "--tokenizer", resource("/tokenizer/llama3-tokenizer.json").toString(), "--output", tiny.toString());
        ok("inference", "--model", tiny.toString(), "--prompt", "Hi", "--steps", "4", "--temperature", "0");
        Path hf = HfFolder.of("Qwen3ForCausalLM", 64, 96, 1, 4, 2, 32, 64, false, 1).write(dir.resolve("qwen"), "F32", 1);
        Path out = dir.resolve("qwen.gguf");
        ok("convert", "--random", "--config", hf.resolve("config.json").toString(), "--output", out.toString(), "--weights-float-type", "f16");
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.string("general.architecture")).isEqualTo("qwen3");
            assertThat(f.integer("qwen3.attention.key_length")).isEqualTo(32);
            assertThat(f.tensors().get("output.weight").type()).isEqualTo(GgmlType.F16);
        }
    }

    /**
     * A random mixture of experts from a Qwen3 MoE config.json, cut to one layer with --layers and given the llama2
     * tokenizer (its 32000 tokens become the vocabulary, not the config's 151936): it runs as it is, with no
     * --tokenizer at inference, and its layer has the config's shape.
     */
    @Test
    void randomMixtureWithLayersAndTokenizerRunsAsItIs() throws Exception {
        HfFolder hf = HfFolder.of("Qwen3MoeForCausalLM", 64, 96, 3, 4, 2, 32, 151936, false, 1);
        hf.config.put("num_experts", 8);
        hf.config.put("num_experts_per_tok", 2);
        hf.config.put("moe_intermediate_size", 64);
        Path config = dir.resolve("config.json");
        HfFolder.JSON.writeValue(config.toFile(), hf.config);
        Path out = dir.resolve("moe.gguf");
        ok("convert", "--random", "--config", config.toString(), "--layers", "1", "--tokenizer",
                resource("/tokenizer/llama2-tokenizer.model").toString(), "--output", out.toString(), "--weights-float-type", "q80");
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.string("general.architecture")).isEqualTo("qwen3moe");
            assertThat(f.integer("qwen3moe.block_count")).isEqualTo(1);
            assertThat(f.integer("qwen3moe.expert_count")).isEqualTo(8);
            assertThat(f.tensors().get("token_embd.weight").dims()).containsExactly(64, 32000);
            assertThat(f.tensors().get("blk.0.ffn_gate_exps.weight").dims()).containsExactly(64, 64, 8);
            assertThat(f.tensors().get("blk.0.ffn_down_exps.weight").type()).isEqualTo(GgmlType.Q8_0);
            assertThat(f.tensors().get("blk.0.ffn_gate_inp.weight").type()).isEqualTo(GgmlType.F32);
            assertThat(f.hasTensor("blk.1.attn_q.weight")).isFalse();
        }
        assertThat(ok("inference", "--model", out.toString(), "--prompt", "Once upon", "--steps", "6", "--temperature", "0").out()).startsWith("Once upon");
    }

    /**
     * stories15M as a llama2.c checkpoint, written here from the committed Q8_0's weights in F32 (the original
     * checkpoint, 59 MB, is not committed; the layout is Llama2cCheckpointTest's and stories260K's, a real file).
     */
    @Test
    void llama2cCheckpointThenRequantizedGgufTellTheKnownStory() throws Exception {
        Path q80 = dir.resolve("s.gguf"), q40 = dir.resolve("s40.gguf"), bin = llama2c(Stories15M.f32(dir), dir.resolve("stories15M.bin"));
        ok("convert", "--model", bin.toString(), "--tokenizer",
                resource("/tokenizer/llama2-tokenizer.model").toString(), "--output", q80.toString(), "--weights-float-type", "q80");
        String[] story = {"inference", "--model", q80.toString(), "--prompt", "Once upon a time", "--steps", "24", "--temperature", "0"};
        assertThat(ok(story).out()).startsWith("Once upon a time, there was a little girl named Lily.");
        ok("convert", "--model", q80.toString(), "--output", q40.toString(), "--weights-float-type", "q40");
        try (GgufFile f = GgufFile.open(q40)) {
            assertThat(f.tensors().get("blk.0.ffn_up.weight").type()).isEqualTo(GgmlType.Q4_0);
        }
        story[2] = q40.toString();
        assertThat(ok(story).out()).startsWith("Once upon a time");
    }

    /**
     * Writes {@code gguf} (F32, tied embeddings) in llama2.c's legacy layout: seven int32 (dim, hidden, layers, heads,
     * KV heads, vocab, seq_len), then each array for all layers in turn, the final norm and the freq_cis tables.
     */
    static Path llama2c(Path gguf, Path out) throws IOException {
        try (GgufFile f = GgufFile.open(gguf); OutputStream o = new BufferedOutputStream(Files.newOutputStream(out))) {
            assertThat(f.hasTensor("output.weight")).as("tied").isFalse();
            int dim = (int) f.integer("llama.embedding_length"), layers = (int) f.integer("llama.block_count");
            int heads = (int) f.integer("llama.attention.head_count"), seq = (int) f.integer("llama.context_length");
            int vocab = (int) f.tensors().get("token_embd.weight").dims()[1], half = dim / heads / 2;
            ByteBuffer header = ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN);
            for (long v : new long[]{dim, f.integer("llama.feed_forward_length"), layers, heads, f.integer("llama.attention.head_count_kv"), vocab, seq}) {
                header.putInt((int) v);
            }
            o.write(header.array());
            o.write(f.bytes("token_embd.weight").toArray(ValueLayout.JAVA_BYTE));
            for (String name : List.of("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_down", "ffn_up")) {
                for (int l = 0; l < layers; l++) o.write(f.bytes("blk." + l + "." + name + ".weight").toArray(ValueLayout.JAVA_BYTE));
            }
            o.write(f.bytes("output_norm.weight").toArray(ValueLayout.JAVA_BYTE));
            ByteBuffer freqs = ByteBuffer.allocate(8 * seq * half).order(ByteOrder.LITTLE_ENDIAN);
            for (int part = 0; part < 2; part++) {
                for (int pos = 0; pos < seq; pos++) {
                    for (int i = 0; i < half; i++) {
                        double angle = pos / Math.pow(10000, i / (double) half);
                        freqs.putFloat((float) (part == 0 ? Math.cos(angle) : Math.sin(angle)));
                    }
                }
            }
            o.write(freqs.array());
        }
        return out;
    }

    @Test
    void badInputIsOneLineNamingTheProblem() throws Exception {
        Path hf = HfFolder.of("LlamaForCausalLM", 64, 128, 1, 4, 2, 0, 32, true, 1).write(dir.resolve("bad"), "F32", 1);
        Path st = hf.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(st);
        Files.write(st, ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, b.length).array());
        String out = dir.resolve("x.gguf").toString(), missing = dir.resolve("nope").toString(), bin = Shared.model("stories260K.bin").toString();
        String[][] cases = {
                {missing + ": no such file or folder", "--model", missing},
                {"unknown weight float type 'q4k'", "--random", "tiny", "--weights-float-type", "q4k"},
                {"convert its f32 file to q4_k_m afterwards", "--random", "tiny", "--weights-float-type", "q4_k_m"},
                {"add --tokenizer tokenizer.model", "--model", bin},
                {"bad safetensors header length", "--model", hf.toString()},
                {"unknown model shape 'llama9'", "--random", "llama9"},
                {"nope.json: no such tokenizer file", "--model", hf.toString(), "--tokenizer", missing + ".json"},
                {"nope/x.gguf: cannot write, folder", "--random", "tiny", "--output", missing + "/x.gguf"},
                {"--layers goes with --random", "--model", hf.toString(), "--layers", "2"},
                {"--layers -1 is outside 1..", "--random", "tiny", "--layers", "-1"},
                {"--weights-float-type keep rewrites a GGUF or .m file, which this input is not", "--random", "tiny", "--weights-float-type", "keep"},
                {"--weights-float-type keep rewrites a GGUF or .m file, which this input is not", "--model", hf.toString(), "--weights-float-type", "keep"},
        };
        for (String[] c : cases) {
            List<String> args = new ArrayList<>(List.of(c).subList(1, c.length));
            if (!args.contains("--output")) args.add("--output=" + out);
            args.addFirst("convert");
            CliTest.Result r = run(args.toArray(String[]::new));
            assertThat(r.code()).as(c[0]).isEqualTo(1);
            assertThat(r.err().strip()).as(c[0]).startsWith("herd: ").contains(c[0]).doesNotContain("\n").doesNotContain("Exception");
            assertThat(Path.of(out)).as(c[0]).doesNotExist();
        }
    }
}
