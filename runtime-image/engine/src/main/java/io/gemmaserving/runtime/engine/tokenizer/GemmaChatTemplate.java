package io.gemmaserving.runtime.engine.tokenizer;

import io.gemmaserving.runtime.engine.GemmaTokenizer.ChatMessage;

import java.util.List;

/**
 * Gemma's chat template, written out in Java (it is the same for Gemma 1, 2 and 3; the 3 template adds the system
 * message). It renders what the official Jinja template in {@code tokenizer_config.json} renders:
 *
 * <pre>
 * {bos}&lt;start_of_turn&gt;user\n{system}\n\n{user, trimmed}&lt;end_of_turn&gt;\n
 * &lt;start_of_turn&gt;model\n{assistant, trimmed}&lt;end_of_turn&gt;\n
 * ...
 * &lt;start_of_turn&gt;model\n            (with the generation prompt)
 * </pre>
 *
 * A leading system message is not a turn: its content (not trimmed) and a blank line go before the first user
 * message. Roles {@code assistant} and {@code model} are the model's turns; after the optional system message, turns
 * must alternate user/model starting with user, as the official template demands.
 */
public final class GemmaChatTemplate {

    private GemmaChatTemplate() {
    }

    /**
     * @param bosText the text of the bos token ({@code <bos>}), written first; the prompt is then encoded without
     *                adding another bos
     */
    public static String render(List<ChatMessage> messages, boolean addGenerationPrompt, String bosText) {
        if (messages == null || messages.isEmpty()) {
            throw new IllegalArgumentException("messages must not be empty");
        }
        StringBuilder sb = new StringBuilder(bosText);
        int first = 0;
        String firstUserPrefix = "";
        if ("system".equals(role(messages.get(0)))) {
            firstUserPrefix = content(messages.get(0)) + "\n\n";
            first = 1;
        }
        for (int i = first; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            String role = role(m);
            boolean userTurn = (i - first) % 2 == 0;
            switch (role) {
                case "user" -> {
                    if (!userTurn) {
                        throw alternation(i, role);
                    }
                }
                case "assistant", "model" -> {
                    if (userTurn) {
                        throw alternation(i, role);
                    }
                    role = "model";
                }
                case "system" -> throw new IllegalArgumentException("messages[" + i
                        + "]: a system message is only allowed first (Gemma has no system turn)");
                default -> throw new IllegalArgumentException("messages[" + i + "].role '" + role
                        + "' is not supported (use system, user or assistant)");
            }
            sb.append("<start_of_turn>").append(role).append('\n');
            if (i == first) {
                sb.append(firstUserPrefix);
            }
            sb.append(content(m).strip()).append("<end_of_turn>\n");
        }
        if (addGenerationPrompt) {
            sb.append("<start_of_turn>model\n");
        }
        return sb.toString();
    }

    private static IllegalArgumentException alternation(int i, String role) {
        return new IllegalArgumentException("messages[" + i + "].role '" + role
                + "': conversation roles must alternate user/assistant/user/assistant/... (after an optional system message)");
    }

    private static String role(ChatMessage m) {
        if (m == null || m.role() == null) {
            throw new IllegalArgumentException("every message needs a role");
        }
        return m.role();
    }

    private static String content(ChatMessage m) {
        return m.content() == null ? "" : m.content();
    }
}
