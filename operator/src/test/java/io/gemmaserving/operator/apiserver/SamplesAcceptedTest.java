package io.gemmaserving.operator.apiserver;

import static org.junit.jupiter.api.Assertions.assertFalse;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.FieldValidateable.Validation;
import io.gemmaserving.operator.Samples;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every file in samples/ (argocd/ excepted) is accepted by a real API server with the CRDs (server-side dry-run). */
@Tag("apiserver")
class SamplesAcceptedTest {

    static Stream<Path> files() {
        return Samples.files().stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("files")
    void sampleIsAccepted(Path file) {
        KubernetesClient client = ApiServer.client();
        String ns = ApiServer.namespace("samples");
        List<HasMetadata> docs = Samples.documents(file);
        assertFalse(docs.isEmpty(), file + " holds no document");
        for (HasMetadata doc : docs) {
            // strict: a misspelt field is an error, not silently pruned
            client.resource(doc).inNamespace(ns).dryRun().fieldValidation(Validation.STRICT).create();
        }
    }
}
