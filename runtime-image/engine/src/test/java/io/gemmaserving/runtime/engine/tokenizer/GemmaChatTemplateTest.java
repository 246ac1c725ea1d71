package io.gemmaserving.runtime.engine.tokenizer;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.gemmaserving.runtime.engine.GemmaTokenizer.ChatMessage;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Our Gemma chat template against the official Jinja template of Gemma 3's tokenizer_config.json, rendered by
 * jinja2 as transformers renders it (the GGUF here carries no tokenizer.chat_template; llama.cpp's built-in
 * "gemma" rendering is compared in the bench module's TokenizerVsLlamaCppTest).
 */
@Tag("unit")
class GemmaChatTemplateTest {

    static List<List<ChatMessage>> conversations() {
        return List.of(
                List.of(new ChatMessage("user", "Hi")),
                List.of(new ChatMessage("user", "  spaces around  \n\n")),
                List.of(new ChatMessage("system", "You are terse."), new ChatMessage("user", "Hello?")),
                List.of(new ChatMessage("system", "  untrimmed system\n"), new ChatMessage("user", " q ")),
                List.of(new ChatMessage("user", "q1"), new ChatMessage("assistant", " a1 "), new ChatMessage("user", "q2")),
                List.of(new ChatMessage("user", "q1"), new ChatMessage("model", "a1"), new ChatMessage("user", "日本語 😀\n<b>")),
                List.of(new ChatMessage("system", "S"), new ChatMessage("user", "q1"), new ChatMessage("assistant", "a1")),
                List.of(new ChatMessage("user", "")),
                // rejected by the official template: roles out of order
                List.of(new ChatMessage("user", "a"), new ChatMessage("user", "b")),
                List.of(new ChatMessage("assistant", "first")),
                List.of(new ChatMessage("system", "S"), new ChatMessage("assistant", "a")));
    }

    @Test
    void rendersLikeTheOfficialJinjaTemplate(@TempDir Path tmp) throws Exception {
        Path config = TokenizerJsonTest.locate().resolveSibling("tokenizer_config.json");
        assumeTrue(Files.isRegularFile(config), config + " not present: run hack/setup.sh");
        String venv = System.getenv("GEMMA_VENV");
        Path python = venv == null ? null : Path.of(venv, "bin", "python");
        assumeTrue(python != null && Files.isExecutable(python), "GEMMA_VENV python not present: run hack/setup.sh");
        Path script = tmp.resolve("render.py");
        Files.writeString(script, """
                import json, sys
                try:
                    from jinja2.sandbox import ImmutableSandboxedEnvironment
                except ImportError:
                    sys.exit(3)
                template = json.load(open(sys.argv[1], encoding="utf-8"))["chat_template"]
                def raise_exception(message):
                    raise ValueError(message)
                env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
                env.globals["raise_exception"] = raise_exception
                compiled = env.from_string(template)
                out = []
                for case in json.load(open(sys.argv[2], encoding="utf-8")):
                    try:
                        out.append(compiled.render(messages=case["messages"], bos_token="<bos>",
                                                   add_generation_prompt=case["gen"]))
                    except ValueError as e:
                        out.append(None)
                json.dump(out, open(sys.argv[3], "w", encoding="utf-8"))
                """);
        List<Map<String, Object>> cases = new ArrayList<>();
        for (List<ChatMessage> chat : conversations()) {
            for (boolean gen : new boolean[] {true, false}) {
                cases.add(Map.of("messages", chat.stream().map(m -> Map.of("role", m.role(), "content", m.content())).toList(),
                        "gen", gen));
            }
        }
        ObjectMapper json = new ObjectMapper();
        Path in = tmp.resolve("cases.json");
        Path out = tmp.resolve("out.json");
        json.writeValue(in.toFile(), cases);
        Process p = new ProcessBuilder(python.toString(), script.toString(), config.toString(), in.toString(), out.toString())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "python timed out");
        assumeTrue(p.exitValue() != 3, "Python package jinja2 not installed: run hack/setup.sh");
        assertEquals(0, p.exitValue(), log);
        List<String> expected = json.readValue(out.toFile(), new TypeReference<List<String>>() {
        });
        int rejected = 0;
        for (int i = 0; i < cases.size(); i++) {
            List<ChatMessage> chat = conversations().get(i / 2);
            boolean gen = i % 2 == 0;
            if (expected.get(i) == null) {
                rejected++;
                assertThrows(IllegalArgumentException.class, () -> GemmaChatTemplate.render(chat, gen, "<bos>"), chat.toString());
            } else {
                assertEquals(expected.get(i), GemmaChatTemplate.render(chat, gen, "<bos>"), chat.toString());
            }
        }
        assertEquals(6, rejected, "the three out-of-order conversations, with and without the generation prompt");
    }

    @Test
    void unknownRolesAndEmptyChatsAreRejectedInOneLine() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> GemmaChatTemplate.render(List.of(new ChatMessage("tool", "x")), true, "<bos>"));
        assertEquals("messages[0].role 'tool' is not supported (use system, user or assistant)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> GemmaChatTemplate.render(List.of(), true, "<bos>"));
        assertThrows(IllegalArgumentException.class, () -> GemmaChatTemplate.render(
                List.of(new ChatMessage("user", "a"), new ChatMessage("system", "late")), true, "<bos>"));
    }
}
