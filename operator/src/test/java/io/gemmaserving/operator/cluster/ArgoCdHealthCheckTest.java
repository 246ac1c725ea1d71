package io.gemmaserving.operator.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * samples/argocd/health.lua, the Argo CD health check for GemmaModel, against the cases of
 * samples/argocd/health_test.yaml (Argo CD's own test format), in two interpreters: gopher-lua, the one Argo CD
 * embeds, with the object decoded as Argo CD decodes it (hack/argocd-lua, built by setup), and the reference Lua 5.1.
 * Fixtures named {@code reconciled-*} were dumped from real reconciles by the cluster tests.
 */
@Tag("unit")
class ArgoCdHealthCheckTest {

    static final Path ARGOCD = Repo.root().resolve("samples/argocd");
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    /** An interpreter the health check runs in. */
    enum Lua { GOPHER_LUA, LUA_5_1 }

    @TestFactory
    List<DynamicTest> healthCheckCases() throws IOException {
        JsonNode cases = YAML.readTree(ARGOCD.resolve("health_test.yaml").toFile()).get("tests");
        List<DynamicTest> tests = new ArrayList<>();
        for (Lua lua : Lua.values()) {
            for (JsonNode c : cases) {
                tests.add(healthCase(lua, c));
            }
        }
        return tests;
    }

    static DynamicTest healthCase(Lua lua, JsonNode c) {
        String input = c.get("inputPath").asText();
        return DynamicTest.dynamicTest(lua + ": " + input, () -> {
            Map<String, String> hs = evaluate(lua, YAML.readTree(ARGOCD.resolve(input).toFile()));
            assertThat(hs.get("status")).as("status for " + input).isEqualTo(c.at("/healthStatus/status").asText());
            if (c.at("/healthStatus").has("message")) {
                assertThat(hs.get("message")).as("message for " + input)
                        .isEqualTo(c.at("/healthStatus/message").asText());
            }
        });
    }

    /** The Lua in the argocd-cm patch is health.lua verbatim (hack/gen-argocd-cm.py writes it). */
    @Test
    void configMapCarriesTheTestedScript() throws IOException {
        JsonNode cm = YAML.readTree(ARGOCD.resolve("argocd-cm.yaml").toFile());
        String embedded = cm.at("/data").get("resource.customizations.health.serving.gemma.io_GemmaModel").asText();
        assertThat(embedded).isEqualTo(Files.readString(ARGOCD.resolve("health.lua")));
    }

    /**
     * What Argo CD says of the resource: health.lua in gopher-lua when it is built, else in Lua 5.1 (skipping the
     * caller when neither is there).
     */
    static Map<String, String> evaluate(JsonNode resource) throws IOException, InterruptedException {
        return evaluate(gopherLua() != null || findLua() == null ? Lua.GOPHER_LUA : Lua.LUA_5_1, resource);
    }

    static Map<String, String> evaluate(Lua lua, JsonNode resource) throws IOException, InterruptedException {
        return lua == Lua.GOPHER_LUA ? evaluateInGopherLua(resource) : evaluateInLua51(resource);
    }

    /** hack/argocd-lua's program: the object as JSON on stdin, the returned table as JSON on stdout. */
    static Map<String, String> evaluateInGopherLua(JsonNode resource) throws IOException, InterruptedException {
        Path bin = gopherLua();
        Assumptions.assumeTrue(bin != null, "argocd-lua-health is not built (hack/setup.d/36-argocd-lua.sh builds it)");
        Process p = new ProcessBuilder(bin.toString(), ARGOCD.resolve("health.lua").toString()).start();
        p.getOutputStream().write(new ObjectMapper().writeValueAsBytes(resource));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("gopher-lua failed: " + err).isZero();
        JsonNode hs = new ObjectMapper().readTree(out);
        return Map.of("status", hs.path("status").asText(), "message", hs.path("message").asText(""));
    }

    static Path gopherLua() {
        String bin = System.getenv("GEMMA_BIN");
        Path dir = bin != null && !bin.isBlank() ? Path.of(bin) : Path.of(System.getenv().getOrDefault("GEMMA_CACHE",
                System.getProperty("user.home") + "/.cache/gemma-serving"), "bin");
        Path p = dir.resolve("argocd-lua-health");
        return Files.isExecutable(p) ? p : null;
    }

    /** Runs health.lua with {@code obj} bound to the resource, as Argo CD does; returns hs.status and hs.message. */
    static Map<String, String> evaluateInLua51(JsonNode resource) throws IOException, InterruptedException {
        String lua5 = findLua();
        Assumptions.assumeTrue(lua5 != null, "lua5.1 is not installed (hack/setup.d/35-lua.sh installs it)");
        String program = "obj = " + toLua(resource) + "\n"
                + "local hs = assert(loadfile(" + luaString(ARGOCD.resolve("health.lua").toString()) + "))()\n"
                + "io.write(hs.status, '\\0', hs.message or '')\n";
        Process p = new ProcessBuilder(lua5, "-").redirectErrorStream(true).start();
        p.getOutputStream().write(program.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("lua5.1 failed: " + out).isZero();
        String[] parts = out.split("\0", -1);
        return Map.of("status", parts[0], "message", parts.length > 1 ? parts[1] : "");
    }

    static String findLua() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            Path lua = Path.of(dir, "lua5.1");
            if (Files.isExecutable(lua)) return lua.toString();
        }
        return null;
    }

    /** JSON as a Lua table constructor, as gopher-lua hands Argo CD's unstructured object to the script. */
    static String toLua(JsonNode n) {
        if (n == null || n.isNull() || n.isMissingNode()) return "nil";
        if (n.isTextual()) return luaString(n.asText());
        if (n.isBoolean() || n.isNumber()) return n.asText();
        StringBuilder b = new StringBuilder("{");
        if (n.isArray()) {
            for (JsonNode e : n) b.append(toLua(e)).append(", ");
        } else {
            for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                var e = it.next();
                b.append('[').append(luaString(e.getKey())).append("] = ").append(toLua(e.getValue())).append(", ");
            }
        }
        return b.append('}').toString();
    }

    static String luaString(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                default -> {
                    if (c < 0x20) b.append('\\').append((int) c);
                    else b.append(c);
                }
            }
        }
        return b.append('"').toString();
    }
}
