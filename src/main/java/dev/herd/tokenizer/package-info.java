/**
 * Tokenizers as llama.cpp runs them: SentencePiece BPE with scores (tokenizer.ggml.model "llama", Llama 2) and
 * byte-level BPE with the Llama 3 pre-tokenizer ("gpt2" with pre "llama-bpe").
 * <pre>{@code
 * Tokenizer t = Tokenizers.fromGguf(gguf);                      // or Tokenizers.fromFile(tokenizer.model | tokenizer.json)
 * ChatTemplate chat = ChatTemplate.detect(gguf.string("tokenizer.chat_template", null), t);
 * int[] prompt = t.encodeWithSpecials(chat.render(messages, true)); // the rendered text already holds BOS
 * int[] plain = t.withBos(t.encode("Once upon a time"));
 * TokenDecoder out = t.decoder();                               // then out.next(id) per generated token
 * }</pre>
 * {@link dev.herd.tokenizer.TokenizerMetadata} turns tokenizer files into GGUF metadata for the converter.
 */
package dev.herd.tokenizer;
