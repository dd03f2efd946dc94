package dev.herd.tokenizer;

import dev.herd.HerdException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TokenizerTest {

    @Test
    void bosIsSeparate() {
        Tokenizer spm = Resources.spm(), bpe = Resources.bpe();
        assertThat(spm.encode("Hello world")).containsExactly(15043, 3186);
        assertThat(spm.withBos(spm.encode("Hello world"))).containsExactly(1, 15043, 3186);
        assertThat(bpe.withBos(bpe.encode("Hello world"))).containsExactly(128000, 9906, 1917);
        assertThat(spm.vocabSize()).isEqualTo(32000);
        assertThat(bpe.vocabSize()).isEqualTo(128256);
    }

    /** Encodings from the project's golden-stories15M.json (llama2.c's stories15M uses the Llama 2 tokenizer). */
    @Test
    void stories15MGolden() {
        Tokenizer t = Resources.tokenizer("llama2-tokenizer.model");
        assertThat(t.withBos(t.encode(""))).containsExactly(1);
        assertThat(t.withBos(t.encode("Lily and Ben went to the park."))).containsExactly(1, 365, 2354, 322, 4111, 3512, 304, 278, 14089, 29889);
        assertThat(t.encode("naïve café 🦙 日本語")).containsExactly(1055, 30085, 345, 274, 28059, 29871, 243, 162, 169, 156, 29871, 30325, 30346, 30968);
        assertThat(t.encode("I'm here\n\ttabs")).containsExactly(306, 29915, 29885, 1244, 13, 12, 21175);
        int[] greedy = {1, 9038, 2501, 263, 931, 29892, 727, 471, 263, 2217, 7826, 4257, 365, 2354, 29889, 2296, 18012, 304, 1708,
                5377, 297, 278, 6575, 845, 457, 29889, 3118, 2462, 29892, 1183, 4446, 263, 4802, 29892, 2654, 8287, 297, 278, 14744, 29889};
        assertThat(t.decode(greedy)).isEqualTo("Once upon a time, there was a little girl named Lily. She loved to play outside in the sunshine. "
                + "One day, she saw a big, red ball in the sky.");
    }

    @Test
    void specialTextsAreTextUnlessAskedFor() {
        Tokenizer bpe = Resources.bpe();
        assertThat(bpe.encode("<|eot_id|>")).hasSizeGreaterThan(1);
        assertThat(bpe.encodeWithSpecials("<|eot_id|>")).containsExactly(128009);
        assertThat(bpe.encodeWithSpecials("Hi<|eot_id|><|eot_id|>x")).containsExactly(13347, 128009, 128009, 87);
        assertThat(bpe.isEos(128009)).isTrue();
        Tokenizer spm = Resources.spm();
        assertThat(spm.encode("</s>")).hasSizeGreaterThan(1);
        assertThat(spm.encodeWithSpecials("Hi</s>")).containsExactly(6324, 2);
        assertThat(spm.encodeWithSpecials("<s></s><unk>")).containsExactly(1, 2, 0);
        // like SentencePiece, the prefix space goes even after a leading BOS (llama.cpp would keep it there)
        assertThat(spm.decode(spm.encodeWithSpecials("<s>Hi</s>"))).isEqualTo("Hi");
    }

    @Test
    void streamingHoldsBackSplitCharacters() {
        Tokenizer spm = Resources.spm();
        // " this is 🦙.cpp": the llama is four byte tokens <0xF0><0x9F><0xA6><0x99>
        assertThat(stream(spm, 29871, 445, 338, 29871, 243, 162, 169, 156, 29889, 8223))
                .containsExactly(" ", " this", " is", " ", "", "", "", "🦙", ".", "cpp");
        Tokenizer bpe = Resources.bpe();
        // " 🦙" is " \xF0\x9F" + "\xA6" + "\x99" in byte-level BPE
        assertThat(stream(bpe, 420, 374, 11410, 99, 247, 13, 11055))
                .containsExactly(" this", " is", " ", "", "🦙", ".", "cpp");
        for (Tokenizer t : List.of(spm, bpe)) {
            String text = "我想在apple工作1314151天～ 😶‍🌫️ កាន់តែពិសេស";
            int[] ids = t.encode(text);
            List<String> chunks = stream(t, ids);
            assertThat(chunks).noneMatch(c -> c.contains("\uFFFD"));
            assertThat(String.join("", chunks)).isEqualTo(t instanceof SpmTokenizer ? " " + text : text);
            assertThat(chunks).contains("");
        }
    }

    @Test
    void streamingReplacesInvalidBytesInsteadOfWaiting() {
        Tokenizer spm = Resources.spm();
        TokenDecoder d = spm.decoder();
        assertThat(d.next(spm.id("<0xE2>"))).isEmpty();
        assertThat(d.next(spm.id("▁a"))).isEqualTo("\uFFFD a");
        assertThat(d.next(spm.id("<0xF0>"))).isEmpty();
        assertThat(d.flush()).isEqualTo("\uFFFD");
    }

    private static List<String> stream(Tokenizer t, int... ids) {
        TokenDecoder d = t.decoder();
        List<String> chunks = new ArrayList<>();
        for (int id : ids) chunks.add(d.next(id));
        assertThat(d.flush()).isEmpty();
        return chunks;
    }

    /** The hand-written splitter against java.util.regex running the same pattern with Unicode \s, on random text. */
    @Test
    void splitterAgreesWithTheRegex() {
        Pattern regex = Pattern.compile(TokenizerMetadata.LLAMA3_REGEX, Pattern.UNICODE_CHARACTER_CLASS);
        String[] alphabet = {"a", "Z", "'", "s", "S", "t", "r", "E", "v", "l", "L", "d", "m", " ", " ", "\n", "\r", "\t",
                "\u00a0", "\u3000", "1", "٣", "½", "!", ".", "é", "世", "🦙", "\u200d", "\u0301", "-", "_"};
        Random random = new Random(42);
        for (int i = 0; i < 20_000; i++) {
            StringBuilder s = new StringBuilder();
            for (int n = random.nextInt(16); n > 0; n--) s.append(alphabet[random.nextInt(alphabet.length)]);
            String text = s.toString();
            List<String> expected = new ArrayList<>();
            for (Matcher m = regex.matcher(text); m.find(); ) expected.add(m.group());
            assertThat(Llama3Splitter.split(text)).as(text).isEqualTo(expected);
        }
    }

    @Test
    void encodesKilobytesQuickly() {
        Random random = new Random(7);
        StringBuilder s = new StringBuilder();
        while (s.length() < 8000) {
            for (int n = 1 + random.nextInt(9); n > 0; n--) s.append((char) ('a' + random.nextInt(26)));
            s.append(random.nextInt(10) == 0 ? ", 1234 Über " : " ");
        }
        String text = s.toString();
        for (Tokenizer t : List.of(Resources.spm(), Resources.bpe())) {
            long start = System.nanoTime();
            int[] ids = t.encode(text);
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertThat(ms).as(t.getClass().getSimpleName() + " ms for 8 KB").isLessThan(1000); // about 50 ms on an idle core
            assertThat(t.decode(ids)).isEqualTo(text);
        }
    }

    @Test
    void unknownModelIsNamed() {
        Map<String, Object> meta = Map.of("tokenizer.ggml.model", "wordpiece", "tokenizer.ggml.tokens", new String[]{"a"});
        assertThatThrownBy(() -> Tokenizers.fromMetadata(meta, "m.gguf"))
                .isInstanceOf(HerdException.class).hasMessageContaining("'wordpiece'");
        Map<String, Object> qwen = Map.of("tokenizer.ggml.model", "gpt2", "tokenizer.ggml.pre", "qwen2",
                "tokenizer.ggml.tokens", new String[]{"a"}, "tokenizer.ggml.merges", new String[0]);
        assertThatThrownBy(() -> Tokenizers.fromMetadata(qwen, "m.gguf"))
                .isInstanceOf(HerdException.class).hasMessageContaining("'qwen2'");
    }
}
