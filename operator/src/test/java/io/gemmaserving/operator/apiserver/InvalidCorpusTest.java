package io.gemmaserving.operator.apiserver;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.FieldValidateable.Validation;
import io.gemmaserving.operator.ConditionAssert;
import io.gemmaserving.operator.InProcessOperator;
import io.gemmaserving.operator.Samples;
import io.gemmaserving.operator.TestModels;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.api.GemmaModelStatus;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A corpus of invalid documents generated from samples/ (wrong types, out-of-range numbers, unknown enum values,
 * unknown fields, removed fields, overlong strings and names, duplicated list entries, references to nothing), each
 * applied to a real API server with the operator running. Every document is either refused naming the field it
 * broke, or admitted and reconciled to a status whose messages are one line per problem: no stack trace, no reconcile
 * left behind its generation, no reconcile error, and the operator still reconciles a new model afterwards.
 */
@Tag("apiserver")
class InvalidCorpusTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final JsonNodeFactory F = JsonNodeFactory.instance;

    /** One document: what was changed where, and the field a refusal must name (or one of its parents). */
    record Doc(String id, String kind, String mutation, String field, ObjectNode body) {
    }

    static KubernetesClient admin;
    static KubernetesClient asOperator;
    static InProcessOperator operator;
    static String ns;

    @BeforeAll
    static void start() {
        admin = ApiServer.client();
        asOperator = ApiServer.asOperator();
        ns = ApiServer.namespace("corpus");
        operator = InProcessOperator.start(asOperator, TestModels.SETTINGS);
    }

    @AfterAll
    static void stop() {
        if (operator != null) {
            operator.close();
        }
        if (asOperator != null) {
            asOperator.close();
        }
    }

    static List<Doc> corpus() {
        List<Doc> docs = new ArrayList<>();
        for (Path file : Samples.files()) {
            for (HasMetadata sample : Samples.documents(file)) {
                if (!"GemmaModel".equals(sample.getKind()) && !"ServingRuntime".equals(sample.getKind())) {
                    continue;
                }
                ObjectNode base = JSON.valueToTree(sample);
                base.remove("status");
                ObjectNode meta = F.objectNode();
                meta.put("name", sample.getMetadata().getName());
                base.set("metadata", meta);
                String kind = sample.getKind();
                List<Doc> mine = new ArrayList<>();
                mutate(kind, base, base.get("spec"), "spec", mine);
                names(kind, base, mine);
                if (kind.equals("GemmaModel")) {
                    references(base, mine);
                }
                docs.addAll(mine);
            }
        }
        for (int i = 0; i < docs.size(); i++) {
            Doc d = docs.get(i);
            if (!d.mutation().startsWith("name ")) {
                ((ObjectNode) d.body().get("metadata")).put("name", (d.kind().equals("GemmaModel") ? "m-" : "rt-") + i);
            }
        }
        return docs;
    }

    /** Every node under spec: wrong types, bad values, unknown and removed fields, overlong text, duplicates. */
    static void mutate(String kind, ObjectNode base, JsonNode node, String path, List<Doc> out) {
        if (node.isObject()) {
            out.add(with(kind, base, path, "unknown field", path + ".bogusField",
                    n -> ((ObjectNode) n).put("bogusField", "x")));
            if (!path.equals("spec")) {
                out.add(replaced(kind, base, path, "wrong type (text for an object)", F.textNode("not-an-object")));
            }
            List<String> keys = new ArrayList<>();
            node.fieldNames().forEachRemaining(keys::add);
            for (String key : keys) {
                out.add(with(kind, base, path, "removed " + key, path + "." + key, n -> ((ObjectNode) n).remove(key)));
                mutate(kind, base, node.get(key), path + "." + key, out);
            }
        } else if (node.isArray()) {
            out.add(replaced(kind, base, path, "wrong type (text for a list)", F.textNode("not-a-list")));
            if (!node.isEmpty()) {
                out.add(with(kind, base, path, "first entry twice", path + "[" + node.size() + "]",
                        n -> ((ArrayNode) n).add(n.get(0).deepCopy())));
            }
            for (int i = 0; i < node.size(); i++) {
                mutate(kind, base, node.get(i), path + "[" + i + "]", out);
            }
        } else if (node.isTextual()) {
            out.add(replaced(kind, base, path, "wrong type (number for text)", F.numberNode(12345)));
            out.add(replaced(kind, base, path, "not a valid value", F.textNode("Not A Valid Value!")));
            out.add(replaced(kind, base, path, "3000 characters", F.textNode("x".repeat(3000))));
        } else if (node.isIntegralNumber()) {
            out.add(replaced(kind, base, path, "wrong type (text for a number)", F.textNode("many")));
            out.add(replaced(kind, base, path, "negative", F.numberNode(-1)));
            out.add(replaced(kind, base, path, "huge", F.numberNode(2_000_000_000)));
        } else if (node.isNumber()) {
            out.add(replaced(kind, base, path, "wrong type (text for a number)", F.textNode("high")));
            out.add(replaced(kind, base, path, "out of range", F.numberNode(5.0)));
        } else if (node.isBoolean()) {
            out.add(replaced(kind, base, path, "wrong type (text for a boolean)", F.textNode("yes")));
        }
    }

    /** A GemmaModel's name is a DNS-1035 label of at most 63 characters; any object's name is lower-case. */
    static void names(String kind, ObjectNode base, List<Doc> out) {
        for (String name : kind.equals("GemmaModel") ? List.of("n" + "x".repeat(63), "Bad_Name", "9lives") : List.of("Bad_Name")) {
            ObjectNode body = base.deepCopy();
            ((ObjectNode) body.get("metadata")).put("name", name);
            out.add(new Doc(kind + " name " + name, kind, "name " + name, "metadata.name", body));
        }
    }

    /** Admitted, but pointing at nothing: the operator must say so. */
    static void references(ObjectNode base, List<Doc> out) {
        out.add(set(base, "spec", "runtime", F.textNode("no-such-runtime"), "a runtime that does not exist"));
        out.add(set(base, "spec.source", "uri", F.textNode("oci://example.com/no such:1"), "an OCI reference with a space"));
        out.add(set(base, "spec.source", "uri", F.textNode("pvc://missing-claim/dir/model.gguf"), "a claim that does not exist"));
        out.add(set(base, "spec.source", "uri", F.textNode("s3://bucket/model"), "a scheme the operator does not know"));
        ObjectNode secret = F.objectNode().put("name", "no-such-secret");
        out.add(set(base, "spec", "serving", F.objectNode().set("apiKeySecretRef", secret), "an API key Secret that does not exist"));
    }

    static Doc set(ObjectNode base, String parent, String key, JsonNode value, String what) {
        return with("GemmaModel", base, parent, what, parent + "." + key, n -> ((ObjectNode) n).set(key, value));
    }

    static Doc replaced(String kind, ObjectNode base, String path, String what, JsonNode value) {
        int cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
        String parent = path.substring(0, cut);
        String last = path.substring(cut);
        ObjectNode body = base.deepCopy();
        JsonNode p = at(body, parent);
        if (last.startsWith("[")) {
            ((ArrayNode) p).set(Integer.parseInt(last.substring(1, last.length() - 1)), value);
        } else {
            ((ObjectNode) p).set(last.substring(1), value);
        }
        return new Doc(kind + " " + path + ": " + what, kind, what, path, body);
    }

    static Doc with(String kind, ObjectNode base, String path, String what, String field,
                    java.util.function.Consumer<JsonNode> change) {
        ObjectNode body = base.deepCopy();
        change.accept(at(body, path));
        return new Doc(kind + " " + path + ": " + what, kind, what, field, body);
    }

    static JsonNode at(JsonNode root, String path) {
        JsonNode n = root;
        for (String part : path.replace("[", ".[").split("\\.")) {
            n = part.startsWith("[") ? n.get(Integer.parseInt(part.substring(1, part.length() - 1))) : n.get(part);
        }
        return n;
    }

    /**
     * The field, or one of its parents below spec, or a field beside it (a rule of the parent object names the field it
     * is about: removing autoscaling.mode is refused at autoscaling.minReplicas, whose 0 needs mode KEDA).
     */
    static boolean namesField(String message, String field) {
        String f = field;
        while (true) {
            if (message.contains(f + ":") || message.contains(f + "[") || message.contains("\"" + f)
                    || message.contains(f + " ") || message.contains(f + ",")
                    || (!f.equals(field) && message.contains(f + "."))) {
                return true;
            }
            int cut = Math.max(f.lastIndexOf('.'), f.lastIndexOf('['));
            if (cut <= 0 || f.substring(0, cut).equals("spec")) {
                return false;
            }
            f = f.substring(0, cut);
        }
    }

    @Test
    void everyInvalidDocumentIsRefusedNamingItsFieldOrReconciledToOneLinePerProblem() throws Exception {
        List<Doc> corpus = corpus();
        List<String> wrong = new ArrayList<>();
        Map<String, Doc> admittedModels = new LinkedHashMap<>();
        int refused = 0;
        int admittedRuntimes = 0;
        for (Doc d : corpus) {
            GenericKubernetesResource r = JSON.treeToValue(d.body(), GenericKubernetesResource.class);
            try {
                admin.resource(r).inNamespace(ns).fieldValidation(Validation.STRICT).create();
                if (d.kind().equals("GemmaModel")) {
                    admittedModels.put(r.getMetadata().getName(), d);
                } else {
                    admittedRuntimes++;
                }
            } catch (KubernetesClientException e) {
                refused++;
                String message = e.getMessage();
                if (e.getCode() != 400 && e.getCode() != 422) {
                    wrong.add(d.id() + ": refused with HTTP " + e.getCode() + ": " + message);
                } else if (!namesField(message, d.field())) {
                    wrong.add(d.id() + ": refused without naming " + d.field() + ": " + message);
                }
            }
        }

        // every admitted model reaches a status for its generation: no reconcile stuck, none failing
        Map<String, GemmaModelStatus> statuses = new LinkedHashMap<>();
        long end = System.nanoTime() + java.time.Duration.ofSeconds(180).toNanos();
        while (statuses.size() < admittedModels.size() && System.nanoTime() < end) {
            for (GemmaModel m : admin.resources(GemmaModel.class).inNamespace(ns).list().getItems()) {
                if (m.getStatus() != null && m.getStatus().observedGeneration != null
                        && m.getStatus().observedGeneration.equals(m.getMetadata().getGeneration())
                        && ConditionAssert.find(m, "Ready").isPresent()) {
                    statuses.put(m.getMetadata().getName(), m.getStatus());
                }
            }
            Thread.sleep(500);
        }
        int degraded = 0;
        Map<String, Integer> reasons = new java.util.TreeMap<>();
        for (var e : admittedModels.entrySet()) {
            GemmaModelStatus s = statuses.get(e.getKey());
            if (s == null) {
                wrong.add(e.getValue().id() + ": admitted but never reconciled to its generation");
                continue;
            }
            for (Condition c : s.conditions) {
                try {
                    ConditionAssert.assertNoStackTrace(c);
                } catch (AssertionError a) {
                    wrong.add(e.getValue().id() + ": " + a.getMessage());
                }
            }
            Condition d = ConditionAssert.condition(s, "Degraded");
            if ("True".equals(d.getStatus())) {
                degraded++;
                reasons.merge(d.getReason(), 1, Integer::sum);
                if (d.getMessage().isBlank() || d.getMessage().lines().anyMatch(String::isBlank)) {
                    wrong.add(e.getValue().id() + ": Degraded without a line per problem: '" + d.getMessage() + "'");
                }
            }
            if ("ReconcileError".equals(d.getReason())) {
                wrong.add(e.getValue().id() + ": the reconcile failed: " + d.getMessage());
            }
        }

        // the operator still works: a new model reconciles
        GenericKubernetesResource canary = JSON.treeToValue(JSON.readTree("""
                {"apiVersion": "serving.gemma.io/v1alpha1", "kind": "GemmaModel", "metadata": {"name": "canary"},
                 "spec": {"source": {"uri": "pvc://models/canary.gguf"}, "replicas": 1}}"""), GenericKubernetesResource.class);
        admin.resource(canary).inNamespace(ns).create();
        long until = System.nanoTime() + java.time.Duration.ofSeconds(60).toNanos();
        boolean canaryReconciled = false;
        while (!canaryReconciled && System.nanoTime() < until) {
            canaryReconciled = admin.apps().deployments().inNamespace(ns).withName("canary").get() != null;
            Thread.sleep(200);
        }

        System.out.printf("invalid corpus: %d documents, %d refused at admission, %d admitted (%d GemmaModels, %d"
                        + " reconciled to Degraded %s; %d ServingRuntimes)%n", corpus.size(), refused,
                corpus.size() - refused, admittedModels.size(), degraded, reasons, admittedRuntimes);
        assertThat(canaryReconciled).as("the operator reconciles a new model after the corpus").isTrue();
        assertThat(wrong).as("documents handled wrongly").isEmpty();
        assertThat(corpus.size()).isGreaterThan(300);
    }
}
