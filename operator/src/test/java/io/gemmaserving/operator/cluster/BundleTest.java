package io.gemmaserving.operator.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The OLM bundle (bundle/) says the same as its sources: every CRD equal to crds/, the CSV's permissions equal to the
 * operator's RBAC (operator/src/main/kubernetes/kubernetes.yml, also in deploy/), its Deployment equal to deploy/'s,
 * alm-examples equal to samples/; and {@code operator-sdk bundle validate --select-optional suite=operatorframework}
 * passes when operator-sdk is built (hack/build-control-plane.sh). After a source changes: hack/sync-manifests.py.
 */
@Tag("cluster")
class BundleTest {

    static final Path ROOT = Repo.root();
    static final Path CSV = ROOT.resolve("bundle/manifests/gemma-operator.clusterserviceversion.yaml");
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    static final String FIX = " (run hack/sync-manifests.py)";

    static List<JsonNode> docs(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        try (YAMLParser p = new YAMLFactory().createParser(file.toFile())) {
            var it = YAML.readValues(p, JsonNode.class);
            while (it.hasNext()) {
                JsonNode d = it.next();
                if (d != null && !d.isNull() && !d.isEmpty()) out.add(d);
            }
        }
        return out;
    }

    static JsonNode kind(List<JsonNode> docs, String kind) {
        return docs.stream().filter(d -> kind.equals(d.path("kind").asText())).findFirst().orElseThrow(
                () -> new AssertionError("no " + kind));
    }

    static List<Path> yamls(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(f -> f.toString().endsWith(".yaml") || f.toString().endsWith(".yml")).sorted().toList();
        }
    }

    @Test
    void everyCrdOfCrdsIsInTheBundleUnchanged() throws IOException {
        Set<String> bundled = new HashSet<>();
        for (Path f : yamls(ROOT.resolve("bundle/manifests"))) {
            if (f.getFileName().toString().endsWith(".crd.yaml")) bundled.add(f.getFileName().toString());
        }
        Set<String> expected = new HashSet<>();
        for (Path crd : yamls(ROOT.resolve("crds"))) {
            String name = docs(crd).get(0).at("/metadata/name").asText();
            Path copy = ROOT.resolve("bundle/manifests/" + name + ".crd.yaml");
            expected.add(copy.getFileName().toString());
            assertThat(copy).as(copy + FIX).exists();
            assertThat(Files.readString(copy)).as(copy + " equals " + crd + FIX).isEqualTo(Files.readString(crd));
        }
        assertThat(bundled).as("bundle CRDs" + FIX).isEqualTo(expected);

        JsonNode owned = docs(CSV).get(0).at("/spec/customresourcedefinitions/owned");
        Set<String> ownedNames = new HashSet<>();
        owned.forEach(o -> {
            ownedNames.add(o.path("name").asText() + ".crd.yaml");
            assertThat(o.path("displayName").asText()).as("displayName of " + o.path("name")).isNotBlank();
            assertThat(o.path("specDescriptors").isArray()).as("specDescriptors of " + o.path("name")).isTrue();
            assertThat(o.path("statusDescriptors").isArray()).as("statusDescriptors of " + o.path("name")).isTrue();
        });
        assertThat(ownedNames).as("CSV owned CRDs").isEqualTo(expected);
    }

    @Test
    void csvPermissionsAreTheOperatorsRbacAndDeployHasTheSame() throws IOException {
        List<JsonNode> source = docs(ROOT.resolve("operator/src/main/kubernetes/kubernetes.yml"));
        List<JsonNode> deploy = docs(ROOT.resolve("deploy/20-rbac.yaml"));
        JsonNode install = docs(CSV).get(0).at("/spec/install/spec");
        for (String kind : List.of("ClusterRole", "Role")) {
            assertThat(kind(deploy, kind).get("rules")).as("deploy/ " + kind + FIX)
                    .isEqualTo(kind(source, kind).get("rules"));
        }
        assertThat(install.at("/clusterPermissions/0/rules")).as("CSV clusterPermissions" + FIX)
                .isEqualTo(kind(source, "ClusterRole").get("rules"));
        assertThat(install.at("/permissions/0/rules")).as("CSV permissions" + FIX)
                .isEqualTo(kind(source, "Role").get("rules"));
        String sa = kind(source, "ClusterRoleBinding").at("/subjects/0/name").asText();
        assertThat(install.at("/clusterPermissions/0/serviceAccountName").asText()).isEqualTo(sa);
        assertThat(install.at("/deployments/0/spec/template/spec/serviceAccountName").asText()).isEqualTo(sa);
    }

    @Test
    void csvDeploymentIsDeploysAndRelatedImagesNameItsImages() throws IOException {
        JsonNode deployment = docs(ROOT.resolve("deploy/30-deployment.yaml")).get(0);
        JsonNode csv = docs(CSV).get(0);
        assertThat(csv.at("/spec/install/spec/deployments/0/spec")).as("CSV deployment" + FIX)
                .isEqualTo(deployment.get("spec"));
        Set<String> related = new HashSet<>();
        csv.at("/spec/relatedImages").forEach(r -> related.add(r.path("image").asText()));
        JsonNode container = deployment.at("/spec/template/spec/containers/0");
        assertThat(related).contains(container.path("image").asText());
        container.path("env").forEach(e -> {
            if (e.path("name").asText().startsWith("RELATED_IMAGE_")) {
                assertThat(related).as("relatedImages has " + e.path("name")).contains(e.path("value").asText());
            }
        });
        assertThat(csv.at("/metadata/annotations/containerImage").asText()).isEqualTo(container.path("image").asText());
    }

    @Test
    void almExamplesAreTheSamples() throws IOException {
        List<JsonNode> samples = new ArrayList<>();
        for (Path f : yamls(ROOT.resolve("samples"))) {
            for (JsonNode d : docs(f)) {
                if (d.path("apiVersion").asText().startsWith("serving.gemma.io/")) samples.add(d);
            }
        }
        JsonNode examples = new ObjectMapper().readTree(docs(CSV).get(0).at("/metadata/annotations/alm-examples")
                .asText());
        assertThat(examples).isInstanceOf(ArrayNode.class);
        List<JsonNode> listed = new ArrayList<>();
        examples.forEach(listed::add);
        assertThat(listed).as("alm-examples" + FIX).containsExactlyInAnyOrderElementsOf(samples);
        assertThat(listed).extracting(e -> e.path("kind").asText()).contains("GemmaModel", "ServingRuntime");
    }

    @Test
    void metadataAnnotationsAndDockerfileLabelsAgree() throws IOException {
        JsonNode annotations = docs(ROOT.resolve("bundle/metadata/annotations.yaml")).get(0).get("annotations");
        String dockerfile = Files.readString(ROOT.resolve("bundle/bundle.Dockerfile"));
        assertThat(dockerfile).startsWith("#").contains("FROM scratch");
        annotations.fields().forEachRemaining(e -> assertThat(dockerfile)
                .as("bundle.Dockerfile label " + e.getKey()).contains("LABEL " + e.getKey() + "=" + e.getValue().asText()));
        assertThat(annotations.path("operators.operatorframework.io.bundle.mediatype.v1").asText())
                .isEqualTo("registry+v1");
        assertThat(annotations.path("operators.operatorframework.io.bundle.package.v1").asText())
                .isEqualTo("gemma-operator");
    }

    @Test
    void operatorSdkValidatesTheBundleWithTheOperatorFrameworkSuite() throws Exception {
        Path sdk = LocalCluster.Binaries.find().kwokctl().resolveSibling("operator-sdk");
        Assumptions.assumeTrue(Files.isExecutable(sdk),
                "operator-sdk absent (hack/build-control-plane.sh operator-sdk builds it): " + sdk);
        Process p = new ProcessBuilder(sdk.toString(), "bundle", "validate", ROOT.resolve("bundle").toString(),
                "--select-optional", "suite=operatorframework", "-o", "json-alpha1")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).as(out).contains("\"passed\": true");
    }
}
