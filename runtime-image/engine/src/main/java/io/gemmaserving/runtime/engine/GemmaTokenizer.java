package io.gemmaserving.runtime.engine;

import java.util.List;

/**
 * Gemma's SentencePiece vocabulary (BPE with byte fallback) and its chat template. Built from GGUF metadata
 * ({@code tokenizer.ggml.*}) or from {@code tokenizer.json}; both must encode exactly as the reference tokenizer.
 */
public interface GemmaTokenizer {

    /** Token ids of {@code text}, with {@code <bos>} first when {@code addBos}. Special tokens in the text are parsed. */
    int[] encode(String text, boolean addBos);

    /**
     * Raw bytes of one token (byte-fallback tokens give their single byte). Streaming callers concatenate bytes
     * and decode UTF-8 only at complete code points.
     */
    byte[] tokenBytes(int token);

    /** Text of a whole token sequence. */
    String decode(int[] tokens);

    int vocabSize();

    int bosId();

    int eosId();

    /** {@code <end_of_turn>}: generation of an assistant turn ends here. */
    int endOfTurnId();

    /** True for ids that end a generation (eos, end_of_turn). */
    boolean isEndOfGeneration(int token);

    /**
     * The Gemma chat template: {@code <bos><start_of_turn>user\n...<end_of_turn>\n<start_of_turn>model\n}.
     * Gemma has no system role: a system message is prepended to the first user turn, as the official template does.
     *
     * @param addGenerationPrompt append {@code <start_of_turn>model\n}
     */
    String applyChatTemplate(List<ChatMessage> messages, boolean addGenerationPrompt);

    /** One message of a chat: role {@code system}, {@code user}, {@code assistant} (or {@code model}). */
    record ChatMessage(String role, String content) {
    }
}
