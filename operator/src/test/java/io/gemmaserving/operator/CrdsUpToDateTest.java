package io.gemmaserving.operator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.crdv2.generator.CRDGenerator;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.gemmaserving.operator.api.GemmaModel;
import io.gemmaserving.operator.api.CrdPostProcessor;
import io.gemmaserving.operator.api.ServingRuntime;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * crds/ holds the CRDs generated from the Java types, never edited by hand. This test regenerates them with the same
 * generator quarkus-operator-sdk uses (fabric8 crd-generator v2) and fails on any difference. To refresh crds/ after
 * changing the types: {@code ./mvnw -pl operator test -Dtest=CrdsUpToDateTest -Dgemma.updateCrds=true}.
 */
class CrdsUpToDateTest {

    static final Path CRDS = Path.of("..", "crds");
    static final List<String> FILES = List.of("gemmamodels.serving.gemma.io-v1.yml", "servingruntimes.serving.gemma.io-v1.yml");

    @Test
    void crdsDirectoryMatchesTheJavaTypes() throws IOException {
        Path out = Path.of("target", "crd-check");
        Files.createDirectories(out);
        // the same post-processor the Quarkus build is configured with (quarkus.operator-sdk.crd.post-processor)
        new CRDGenerator().customResourceClasses(GemmaModel.class, ServingRuntime.class)
                .withPostProcessor(new CrdPostProcessor())
                .forCRDVersions("v1").inOutputDir(out.toFile()).generate();
        boolean update = Boolean.getBoolean("gemma.updateCrds");
        for (String name : FILES) {
            Path generated = out.resolve(name);
            assertTrue(Files.exists(generated), "generator wrote no " + name);
            if (update) {
                Files.copy(generated, CRDS.resolve(name), StandardCopyOption.REPLACE_EXISTING);
            }
            assertTrue(Files.exists(CRDS.resolve(name)), "crds/" + name + " is missing; run with -Dgemma.updateCrds=true");
            assertEquals(Files.readString(generated), Files.readString(CRDS.resolve(name)),
                    "crds/" + name + " differs from the Java types; run with -Dgemma.updateCrds=true and commit");
        }
        try (Stream<Path> files = Files.list(CRDS)) {
            assertEquals(FILES, files.map(p -> p.getFileName().toString()).sorted().toList(),
                    "crds/ holds exactly the generated CRDs");
        }
    }

    /** kubectl shows printer columns in CRD order: the design's READY, REPLICAS, TP, ENDPOINT, AGE (not the generator's). */
    @Test
    void printerColumnsInTheDesignedOrder() throws IOException {
        assertEquals(List.of("READY", "REPLICAS", "TP", "ENDPOINT", "AGE"), columns("gemmamodels.serving.gemma.io-v1.yml"));
        assertEquals(List.of("IMAGE", "AGE"), columns("servingruntimes.serving.gemma.io-v1.yml"));
    }

    static List<String> columns(String file) throws IOException {
        CustomResourceDefinition crd = Serialization.unmarshal(Files.readString(CRDS.resolve(file)),
                CustomResourceDefinition.class);
        return crd.getSpec().getVersions().getFirst().getAdditionalPrinterColumns().stream()
                .map(CustomResourceColumnDefinition::getName).toList();
    }

    /** The Quarkus build (quarkus-operator-sdk) writes target/kubernetes/*-v1.yml; when it ran on these classes, it must agree. */
    @Test
    void quarkusBuildOutputMatchesWhenPresent() throws IOException {
        for (String name : FILES) {
            Path built = Path.of("target", "kubernetes", name);
            Path classes = Path.of("target", "classes", "io", "gemmaserving", "operator", "api", "GemmaModelSpec.class");
            // only a build from the current classes counts (a stale target/ from before a change would not)
            if (Files.exists(built) && Files.exists(classes)
                    && !Files.getLastModifiedTime(built).toInstant().isBefore(Files.getLastModifiedTime(classes).toInstant())) {
                assertEquals(Files.readString(CRDS.resolve(name)), Files.readString(built),
                        "target/kubernetes/" + name + " (Quarkus build) differs from crds/" + name);
            }
        }
    }
}
